/**
 * Resume before the client switch, on two clouds (a worker per cluster): the run is lost in the
 * middle of the join (terminated once etcd-main-1 was promoted, as when Temporal loses it) and a
 * second run of the same spec in resume mode goes on at once under the live load client. Its
 * preflight merges what each cluster's worker sees (old and new voters on both sides), adopts the
 * first two joins and runs the rest, the client switch included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('resume before the client switch', () => {
  it('a run lost in the middle of the join is finished by a resumed run, a worker per cluster', async () => {
    const r = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      keys: 200,
      specOverrides: { shrink: { enabled: false } },
      killAndResumeWhen: (s) =>
        s.plan?.steps.find((step) => step.id === 'join/etcd-main-1/promote')?.state === 'done',
    });
    const steps = r.status.plan?.steps ?? [];
    const adopted = steps.filter((s) => s.note?.includes('adopted')).map((s) => s.id);
    recordFaultRun(
      'resume-before-switch',
      'resume after the run was lost mid-join (a worker per cluster)',
      r,
      {
        outcome: `${r.firstRun?.outcome ?? '?'}, then resumed: ${r.outcome}`,
        notes: [`${adopted.length} of ${steps.length} steps adopted`],
      },
    );
    expect(r.firstRun?.outcome).toBe('terminated');
    expectCompletedSafely(r);
    expect(adopted).toEqual(expect.arrayContaining(['join/etcd-main-0/promote', 'join/etcd-main-1/promote']));
    // The first run may have added etcd-main-2 before it was killed; its start was left over.
    expect(adopted).not.toContain('join/etcd-main-2/promote');
    expect(adopted).not.toContain('gate/switch-clients');
    expect(steps.every((s) => s.state === 'done')).toBe(true);
  });
});
