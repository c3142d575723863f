/**
 * Every shrinking path runs to completion with fake activities that keep the real activities'
 * rules (scaleSource stops one pod at a time, and only pods whose member has left etcd): a plan
 * step that breaks a rule fails the run here, not in someone's cluster after the client switch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities } from './fake-activities.js';
import { allGates, createWorker, startTestEnvironment, testSpec } from './harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const shrinking: [number, number][] = [];
for (let n = 2; n <= 7; n++) for (let m = 1; m < n; m++) shrinking.push([n, m]);

async function migrate(n: number, m: number) {
  const base = testSpec();
  const spec = testSpec({
    gates: allGates('auto'),
    target: { ...(base.target as Record<string, unknown>), replicas: m },
  });
  const fake = createFakeActivities({ sourceSize: n });
  const taskQueue = `sizes-${randomUUID()}`;
  const worker = await createWorker(env, taskQueue, fake.activities);
  const result = await worker.runUntil(
    env.client.workflow.execute<typeof etcdMigration>('etcdMigration', {
      taskQueue,
      workflowId: `sizes-${n}-${m}-${randomUUID()}`,
      args: [{ spec }],
    }),
  );
  return { result, fake };
}

describe('every shrinking path completes (fake activities with the real rules)', () => {
  it.concurrent.each(shrinking)('%i -> %i', async (n, m) => {
    const { result, fake } = await migrate(n, m);
    expect(result.outcome).toBe('completed');
    expect(fake.world.members.map((x) => `${x.name}${x.isLearner ? ' (learner)' : ''}`).sort()).toEqual(
      Array.from({ length: m }, (_, i) => `etcd-main-${i}`),
    );
    expect(fake.world.sourceReplicas).toBe(0);
    const scales = fake.calls.filter((c) => c.name === 'scaleSource').map((c) => Number(c.detail));
    expect(scales).toEqual(Array.from({ length: n }, (_, i) => n - 1 - i));
  });
});
