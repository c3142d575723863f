/**
 * A run started past the CLI's worker check (Temporal CLI, Web UI) on a queue no worker polls
 * fails once preflight waited `deadlines.workerPickup` for a worker, naming the queue, where it
 * used to wait forever; preflight's retries still run past that deadline (each attempt is picked
 * up at once, whatever its backoff).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { FailureType } from '../../core/failure-types.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities } from './fake-activities.js';
import {
  allGates,
  perClusterWorkersSpec,
  runWithFakes,
  statusOf,
  testSpec,
  useTestEnvironment,
  workflowBundle,
  type MigrationHandle,
} from './harness.js';

const env = useTestEnvironment();
const PICKUP = '2s';

/** Runs `drive` while a workflow-only worker serves `workflowQueue` and activity workers serve `activityQueues`. */
async function withWorkers<T>(
  workflowQueue: string,
  activityQueues: string[],
  drive: () => Promise<T>,
): Promise<T> {
  const connection = env().nativeConnection;
  const workflows = await Worker.create({
    connection,
    taskQueue: workflowQueue,
    workflowBundle: await workflowBundle(),
  });
  const activities = await Promise.all(
    activityQueues.map((taskQueue) =>
      Worker.create({ connection, taskQueue, activities: createFakeActivities().activities }),
    ),
  );
  const running = activities.map((w) => w.run());
  try {
    return await workflows.runUntil(drive());
  } finally {
    for (const w of activities) w.shutdown();
    await Promise.all(running);
  }
}

/** The run's failure (it must fail), its status at the end, and whether its history replays. */
async function failureOf(handle: MigrationHandle) {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  const status = await statusOf(handle);
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle() },
    await handle.fetchHistory(),
    handle.workflowId,
  );
  return { failure: cause as ApplicationFailure, status };
}

describe('a preflight no worker picks up', () => {
  it("per-cluster: the run fails naming the target cluster's queue no worker polls", async () => {
    const id = randomUUID();
    const queues = { workflow: `wf-${id}`, source: `src-${id}`, target: `tgt-${id}` };
    const { failure, status, scheduled } = await withWorkers(queues.workflow, [queues.source], async () => {
      const handle = await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue: queues.workflow,
        workflowId: `no-worker-${id}`,
        args: [
          {
            spec: testSpec({ workers: perClusterWorkersSpec(queues), deadlines: { workerPickup: PICKUP } }),
          },
        ],
      });
      const outcome = await failureOf(handle);
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a)
        .map((a) => `${a!.activityType?.name} ${a!.taskQueue?.name}`);
      return { ...outcome, scheduled };
    });

    expect(failure.type).toBe(FailureType.NoWorker);
    expect(failure.message).toBe(
      `no worker picked up preflight within deadlines.workerPickup (${PICKUP}); nothing was changed: ` +
        `no worker polls task queue "${queues.target}" for activities (workers.target.taskQueue): ` +
        `start the target cluster's worker with ETCD_STRETCH_CLUSTER=target and ETCD_STRETCH_ACTIVITY_TASK_QUEUE=${queues.target}`,
    );
    // The source's part ran; nothing but the two preflights was ever scheduled.
    expect(scheduled).toEqual([`preflight ${queues.source}`, `preflight ${queues.target}`]);
    expect(status.workflowState).toBe('failed');
    expect(status.error).toBe(failure.message);
  });

  it('single: the run fails naming the workflow task queue when only per-cluster workers run', async () => {
    const id = randomUUID();
    const workflowQueue = `wf-${id}`;
    const { failure } = await withWorkers(workflowQueue, [`src-${id}`], async () =>
      failureOf(
        await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
          taskQueue: workflowQueue,
          workflowId: `no-worker-${id}`,
          args: [{ spec: testSpec({ deadlines: { workerPickup: PICKUP } }) }],
        }),
      ),
    );
    expect(failure.type).toBe(FailureType.NoWorker);
    expect(failure.message).toContain(`no worker polls task queue "${workflowQueue}" for activities`);
    expect(failure.message).toContain(
      `start a worker without ETCD_STRETCH_CLUSTER on ETCD_STRETCH_TASK_QUEUE=${workflowQueue}`,
    );
  });

  it('preflight retried with backoffs longer than deadlines.workerPickup still runs and the migration completes', async () => {
    // Backoffs 1 s, 2 s, 4 s: the last retry waits twice the pickup deadline before it is due.
    const failures = 3;
    let attempts = 0;
    const { result, fake } = await runWithFakes(
      env(),
      { gates: allGates('auto'), deadlines: { workerPickup: PICKUP } },
      {
        failWhen: (call, attempt) => {
          if (call.name !== 'preflight') return undefined;
          attempts = attempt;
          return attempt <= failures
            ? ApplicationFailure.retryable(`preflight attempt ${attempt} fails`, 'EtcdUnavailable')
            : undefined;
        },
      },
      (handle) => handle.result(),
    );
    expect(result.outcome).toBe('completed');
    expect(attempts).toBe(failures + 1);
    expect(fake.calls.filter((c) => c.name === 'preflight')).toHaveLength(1);
  });
});
