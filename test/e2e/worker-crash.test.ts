import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { crashingWorkers, type Kill } from '../helpers/worker-hosts.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('fault: the worker is killed (SIGKILL) as each phase starts', () => {
  it('is picked up by a new worker every time and completes, with no failed client operation', async () => {
    const kills: Kill[] = [];
    const r = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      workers: crashingWorkers(env.client, env.address, kills),
    });
    // Phases that pass in well under a second may slip between two looks; most are hit.
    expect(kills.length, JSON.stringify(kills)).toBeGreaterThanOrEqual(5);
    expect(kills.map((k) => k.phase)).toEqual(expect.arrayContaining(['preflight', 'join', 'retire']));
    expect(new Set(kills.map((k) => k.pid)).size).toBe(kills.length);
    expect(r.outcome).toBe('completed');
    // A membership change re-run after a crash finds its work done: exactly the planned members remain.
    expect(r.finalMembers.map((m) => m.name).sort()).toEqual(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    expect(r.finalMembers.every((m) => m.cluster === 'target' && !m.learner)).toBe(true);
    expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
    expect(r.lostWrites).toBe(0);
    expect(r.check.violations).toEqual([]);
    expect(r.hashKvConsistent).toBe(true);
  });
});
