/**
 * Readiness against Temporal: the frontend lists a poller with this process's identity, seen
 * within STALE_MS, on each task queue the process polls.
 */
import type { Connection } from '@temporalio/client';
import type { Verdict } from './health-server.js';

/** A long poll lasts up to ~70 s: two of them may pass between updates of the poller's time. */
export const STALE_MS = 150_000;
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

export interface PolledQueue {
  taskQueue: string;
  type: keyof typeof TASK_QUEUE_TYPE;
}

export async function pollersSeen(
  connection: Connection,
  namespace: string,
  identity: string,
  queues: PolledQueue[],
  now = Date.now(),
): Promise<Verdict> {
  const seen: string[] = [];
  for (const { taskQueue, type } of queues) {
    const r = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: TASK_QUEUE_TYPE[type],
    });
    const fresh = (r.pollers ?? []).some((p) => {
      const seconds = Number(String(p.lastAccessTime?.seconds ?? 0));
      return p.identity === identity && now - seconds * 1000 < STALE_MS;
    });
    if (!fresh)
      return { ok: false, detail: `no recent ${type} poller ${identity} on task queue ${taskQueue}` };
    seen.push(`${taskQueue} (${type})`);
  }
  return { ok: true, detail: `${identity} polls ${seen.join(', ')}` };
}
