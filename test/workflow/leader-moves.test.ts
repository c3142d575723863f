/**
 * The leader phase's move, when its answer is lost: the retry finds the leadership already moved
 * and cannot say where from; an abort before the client switch must still move it back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { abortSignal } from '../../workflows/messages.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import type { MigrationStatus } from '../../workflows/status.js';
import type { WorkflowHandle } from '@temporalio/client';
import { createFakeActivities } from './fake-activities.js';
import { allGates, createWorker, startTestEnvironment, testSpec, waitForStatus } from './harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

/** Runs a migration with `fake` to the switch-clients gate (every other gate on auto), then `then`. */
async function atSwitchGate<T>(
  fake: ReturnType<typeof createFakeActivities>,
  then: (h: WorkflowHandle<typeof etcdMigration>, status: MigrationStatus) => Promise<T>,
): Promise<T> {
  const taskQueue = `leader-${randomUUID()}`;
  const worker = await createWorker(env, taskQueue, fake.activities);
  return worker.runUntil(async () => {
    const h = await env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
      taskQueue,
      workflowId: `leader-${randomUUID()}`,
      args: [{ spec: testSpec({ gates: allGates('auto', { 'switch-clients': 'manual' }) }) }],
    });
    const status = await waitForStatus(
      h,
      'switch-clients gate',
      (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients',
    );
    return then(h, status);
  });
}

it('a move-leader whose answer was lost still registers its move-back', async () => {
  const fake = createFakeActivities({ loseFirstMoveLeaderAnswer: true });
  const result = await atSwitchGate(fake, async (h) => {
    await h.signal(abortSignal, { by: 'dave', reason: 'after a lost move-leader answer' });
    return h.result();
  });
  expect(result.outcome).toBe('aborted');
  const moves = fake.calls.filter((c) => c.name === 'moveLeader').map((c) => c.detail);
  // The move, its retry (which found it made), then the move back in the rollback.
  expect(moves).toEqual(['etcd-main-0', 'etcd-main-0', 'etcd-0']);
  expect(fake.world.leader).toBe('etcd-0');
  expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
});

it("the move-leader step records the move's own evidence: the new leader, no observation after it", async () => {
  const fake = createFakeActivities();
  const status = await atSwitchGate(fake, async (h, atGate) => {
    await h.terminate('enough');
    return atGate;
  });
  const names = fake.calls.map((c) => c.name);
  const move = names.indexOf('moveLeader');
  expect(move).toBeGreaterThan(0);
  // Up to the gate nothing follows the move: its result carried the evidence.
  expect(names.slice(move + 1)).toEqual([]);
  expect(status.lastEvidence?.leader).toBe('etcd-main-0');
});

it('a worker that ignores withEvidence: the step observes after the move, as before', async () => {
  const fake = createFakeActivities({ moveLeaderWithoutEvidence: true });
  const status = await atSwitchGate(fake, async (h, atGate) => {
    await h.terminate('enough');
    return atGate;
  });
  const names = fake.calls.map((c) => c.name);
  expect(names.slice(names.indexOf('moveLeader') + 1)).toEqual(['observe']);
  expect(status.lastEvidence?.leader).toBe('etcd-main-0');
});
