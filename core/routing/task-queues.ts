/**
 * Which worker runs an activity. In `per-cluster` mode every cluster runs a worker of its own
 * that polls a task queue named after its cluster (the kubeconfig context the spec names), and
 * the workflow sends each activity there; in `single` mode everything stays on the workflow's
 * own task queue (`undefined` here: the proxies name no queue, as before this existed).
 */
import type { Side } from '../planner/plan-types.js';
import type { MigrationSpec } from '../spec/schema.js';

export const TASK_QUEUE_PREFIX = 'etcd-stretch-';

/** The default task queue of the worker that serves `cluster` (a kubeconfig context name). */
export function clusterTaskQueue(cluster: string): string {
  return `${TASK_QUEUE_PREFIX}${cluster}`;
}

export function taskQueueOf(spec: MigrationSpec, side: Side): string | undefined {
  if (spec.workers.mode !== 'per-cluster') return undefined;
  return spec.workers[side].taskQueue ?? clusterTaskQueue(spec[side].context);
}

/** The spec side(s) a worker that serves `cluster` only may touch; both when it serves every cluster. */
export function sidesServedBy(spec: MigrationSpec, cluster: string | undefined): Side[] {
  if (cluster === undefined) return ['source', 'target'];
  return (['source', 'target'] as const).filter((s) => spec[s].context === cluster);
}
