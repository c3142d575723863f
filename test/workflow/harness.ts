/** A Temporal dev server (the pinned CLI) and workers with fake activities, for workflow-logic tests. */
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';
import { startTestEnvironment, workflowBundle } from '../helpers/temporal-test-env.js';
import { waitFor } from '../../sandbox/processes.js';
import { statusQuery } from '../../workflows/messages.js';
import type { MigrationStatus } from '../../workflows/status.js';
import type { MigrationActivities } from '../../core/activity-contract.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities, type FakeOptions } from './fake-activities.js';
import fs from 'node:fs';
import YAML from 'yaml';

/** A dev server for the tests of this file: started before them, torn down after them. */
export function useTestEnvironment(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await startTestEnvironment();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  return () => env!;
}

export { startTestEnvironment, workflowBundle };

export async function createWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: MigrationActivities,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
}

/** The example spec, with overrides (gates, soak, ...). */
export function testSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = YAML.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'examples', 'migration-spec.yaml'), 'utf8'),
  ) as Record<string, unknown>;
  return { ...base, soak: '1s', ...overrides };
}

export type MigrationHandle = WorkflowHandle<typeof etcdMigration>;
export type Fake = ReturnType<typeof createFakeActivities>;

/** Starts a migration of `testSpec(specOverrides)` on `taskQueue` (a worker there runs it). */
export function startMigration(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  specOverrides: Record<string, unknown> = {},
): Promise<MigrationHandle> {
  return env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
    taskQueue,
    workflowId: `migration-${randomUUID()}`,
    args: [{ spec: testSpec(specOverrides) }],
  });
}

/** A migration with fake activities on a task queue of its own; `drive` runs while a worker serves it. */
export async function runWithFakes<T>(
  env: TestWorkflowEnvironment,
  specOverrides: Record<string, unknown>,
  fakeOptions: FakeOptions,
  drive: (handle: MigrationHandle, fake: Fake) => Promise<T>,
): Promise<{ result: T; fake: Fake }> {
  const taskQueue = `wf-${randomUUID()}`;
  const fake = createFakeActivities(fakeOptions);
  const worker = await createWorker(env, taskQueue, fake.activities);
  const result = await worker.runUntil(async () =>
    drive(await startMigration(env, taskQueue, specOverrides), fake),
  );
  return { result, fake };
}

export function allGates(
  mode: 'auto' | 'manual',
  except: Record<string, 'auto' | 'manual'> = {},
): Record<string, string> {
  const gates = ['shrink', 'expose', 'dns', 'join', 'leader', 'switch-clients', 'finalize', 'cleanup'];
  return Object.fromEntries(gates.map((g) => [g, except[g] ?? mode]));
}

export async function statusOf(handle: WorkflowHandle): Promise<MigrationStatus> {
  return handle.query(statusQuery);
}

export async function waitForStatus(
  handle: WorkflowHandle,
  what: string,
  predicate: (s: MigrationStatus) => boolean,
  timeoutMs = 30_000,
): Promise<MigrationStatus> {
  return waitFor(
    what,
    async () => {
      const s = await statusOf(handle);
      return predicate(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export interface PerClusterQueues {
  workflow: string;
  source: string;
  target: string;
}

/** The spec's `workers` section for per-cluster workers on `queues`. */
export function perClusterWorkersSpec(queues: PerClusterQueues): Record<string, unknown> {
  return {
    mode: 'per-cluster',
    source: { taskQueue: queues.source },
    target: { taskQueue: queues.target },
  };
}

/**
 * Per-cluster workers with fakes: a workflow-only worker on the workflow queue and one activity
 * worker per cluster queue, serving `activitiesOf(side)`; `drive` runs while they serve.
 */
export async function runPerCluster<T>(
  env: TestWorkflowEnvironment,
  activitiesOf: (side: 'source' | 'target') => MigrationActivities,
  drive: (queues: PerClusterQueues) => Promise<T>,
): Promise<T> {
  const id = randomUUID();
  const queues = { workflow: `wf-${id}`, source: `src-${id}`, target: `tgt-${id}` };
  const connection = env.nativeConnection;
  const workflowWorker = await Worker.create({
    connection,
    taskQueue: queues.workflow,
    workflowBundle: await workflowBundle(),
  });
  const clusterWorkers = await Promise.all(
    (['source', 'target'] as const).map((side) =>
      Worker.create({ connection, taskQueue: queues[side], activities: activitiesOf(side) }),
    ),
  );
  const running = clusterWorkers.map((w) => w.run());
  try {
    return await workflowWorker.runUntil(drive(queues));
  } finally {
    for (const w of clusterWorkers) w.shutdown();
    await Promise.all(running);
  }
}
