/**
 * Resume (docs/resume.md): a run that ended past the client switch without finishing is finished
 * by a second run of the same spec in resume mode (`etcd-stretch start --resume`), under the live
 * load client. (a) The first run fails at the scale-down after the first removal (an injected
 * refusal of scaleSource): etcd-2 was removed and its pod still runs. (b) The first run is
 * aborted once etcd-2 was removed and stops at a safe point. Either way the resumed run adopts
 * what was done, runs only the rest, and completes with the source cleaned up.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createMigrationActivities } from '../../activities/migration/index.js';
import type { MigrationActivities } from '../../core/activity-contract.js';
import { abortSignal } from '../../workflows/messages.js';
import { runAcceptanceScenario, type ScenarioReport } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { REPO_ROOT, kubeconfigPath } from '../../sandbox/config.js';
import type { WorkerHost } from '../helpers/worker-hosts.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

/** The in-process worker, except that its first scaleSource refuses before it scales anything. */
function scaleSourceRefusedOnce(seen: { refusedAt?: string }): WorkerHost {
  return {
    async run(taskQueue, _workflowId, fn) {
      const real = createMigrationActivities({ kubeconfig: kubeconfigPath() });
      const activities: MigrationActivities = {
        ...real,
        scaleSource: async (input) => {
          if (!seen.refusedAt) {
            seen.refusedAt = new Date().toISOString();
            throw ApplicationFailure.nonRetryable(
              'injected fault: the source API server refused the scale-down',
              'PreconditionFailed',
            );
          }
          return real.scaleSource(input);
        },
      };
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
        activities,
      });
      return worker.runUntil(fn);
    },
  };
}

function expectFinishedByResume(r: ScenarioReport): void {
  expectCompletedSafely(r);
  const steps = r.status.plan!.steps;
  expect(steps.every((s) => s.state === 'done')).toBe(true);
  const adopted = steps.filter((s) => s.note?.includes('adopted')).map((s) => s.id);
  // The resumed run did not join, promote or remove again what the first run did.
  expect(adopted).toEqual(expect.arrayContaining(['gate/switch-clients', 'retire/etcd-2/remove-member']));
  for (const id of ['retire/etcd-1/remove-member', 'retire/etcd-0/remove-member'])
    expect(adopted).not.toContain(id);
  // The source cleaned up as by a completed run, its PVCs kept.
  const cleanup = steps.find((s) => s.kind === 'cleanup-source-statefulset');
  expect(cleanup?.state).toBe('done');
  expect(cleanup?.note ?? '').not.toContain('adopted');
  expect(r.sourcePvcsRetained).toBe(true);
}

function record(id: string, scenario: string, r: ScenarioReport): void {
  const adopted = r.status.plan?.steps.filter((s) => s.note?.includes('adopted')).length ?? 0;
  recordFaultRun(id, scenario, r, {
    outcome: `${r.firstRun?.outcome ?? '?'}, then resumed: ${r.outcome}`,
    notes: [
      `first run: ${r.firstRun?.outcome}: ${r.firstRun?.reason.slice(0, 300)}`,
      `resumed by ${r.firstRun?.resumedBy}: ${adopted} of ${r.status.plan?.steps.length} steps adopted`,
    ],
  });
}

describe('resume: a run that ended past the client switch is finished by a second run', () => {
  it('(a) failed at a scale-down after the switch (injected fault): resume finishes it', async () => {
    const seen: { refusedAt?: string } = {};
    const r = await runAcceptanceScenario({
      client: env.client,
      workers: scaleSourceRefusedOnce(seen),
      resume: true,
      keys: 200,
    });
    record('resume-after-failure', 'resume after a failure past the switch (one worker)', r);
    expect(seen.refusedAt).toBeDefined();
    expect(r.firstRun?.outcome).toBe('failed');
    expect(r.firstRun?.reason).toContain('failed after the client switch at retire/etcd-2/scale-source');
    expect(r.firstRun?.reason).toContain('etcd-stretch start --resume <spec>');
    expectFinishedByResume(r);
  });

  it('(b) stopped by an abort past the switch: resume finishes it', async () => {
    let aborted = false;
    const r = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      onStatusAfterSwitch: true,
      resume: true,
      keys: 200,
      onStatus: async ({ status, handle, say }) => {
        const removed = status.plan?.steps.find((s) => s.id === 'retire/etcd-2/remove-member');
        if (aborted || removed?.state !== 'done') return;
        aborted = true;
        await handle.signal(abortSignal, { by: 'fault-test', reason: 'stop past the switch' });
        say('aborted after etcd-2 was removed');
      },
    });
    record('resume-after-abort', 'resume after an abort past the switch (one worker)', r);
    expect(aborted).toBe(true);
    expect(r.firstRun?.outcome).toBe('stopped');
    expect(r.firstRun?.reason).toContain('etcd-stretch start --resume <spec>');
    expectFinishedByResume(r);
  });
});
