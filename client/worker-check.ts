/**
 * `etcd-stretch start` refuses a spec whose task queues no worker polls (a single-mode spec while
 * only per-cluster workers run, a misspelt `workers.<side>.taskQueue`): such a run would wait at
 * its first task. Temporal's DescribeTaskQueue lists the pollers it saw on a queue, per task type.
 */
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { noWorkerMessage, queueNeeds, type QueueNeed } from '../core/routing/worker-needs.js';
import type { MigrationSpec } from '../core/spec/schema.js';

// CommonJS: no named exports under Node's ESM loader.
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/**
 * A poller counts if Temporal saw it poll this recently. A long poll lasts up to a minute, so an
 * idle worker's last poll can be that old; the server lists a worker that stopped for 5 minutes.
 */
export const RECENT_POLL_MS = 2 * 60_000;

/** Whether a worker polled `need.queue` for its kind of task within RECENT_POLL_MS. */
export async function isPolled(client: Client, need: QueueNeed, now = Date.now()): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: need.queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType:
      need.tasks === 'workflow'
        ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (response.pollers ?? []).some((poller) => {
    const seen = optionalTsToMs(poller.lastAccessTime);
    return seen !== undefined && now - seen <= RECENT_POLL_MS;
  });
}

/** The queues a run of `spec` on `workflowQueue` needs that no worker polls now. */
export async function missingWorkers(
  client: Client,
  spec: MigrationSpec,
  workflowQueue: string,
): Promise<QueueNeed[]> {
  const needs = queueNeeds(spec, workflowQueue);
  const polled = await Promise.all(needs.map((need) => isPolled(client, need)));
  return needs.filter((_, i) => !polled[i]);
}

/** Why `start` refuses, or null when every queue has a worker. */
export function workerCheckRefusal(spec: MigrationSpec, missing: QueueNeed[]): string | null {
  // One worker to start for each line: a queue missing both kinds of poller needs one worker.
  const lines = missing.filter(
    (need, i) => missing.findIndex((m) => m.queue === need.queue && m.remedy === need.remedy) === i,
  );
  if (lines.length === 0) return null;
  const later = `A worker that starts later is fine: pass --no-worker-check (the run fails if no worker picks up its preflight within deadlines.workerPickup, ${spec.deadlines.workerPickup}).`;
  if (lines.length === 1) return `not started: ${noWorkerMessage(lines[0]!)}.\n${later}`;
  return `not started: the spec needs workers that do not run now:\n${lines.map((n) => `- ${noWorkerMessage(n)}`).join('\n')}\n${later}`;
}
