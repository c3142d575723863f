/**
 * The task queues a spec needs a worker on, and what to say when none polls one. A run whose
 * queue no worker polls would wait at its first task forever: the CLI checks before it starts a
 * run (client/worker-check.ts), and the workflow fails when no worker picks up preflight in time
 * (workflows/no-worker.ts), both naming the queue, what chose it and the worker to run.
 */
import type { Side } from '../planner/plan-types.js';
import type { MigrationSpec } from '../spec/schema.js';
import { taskQueueOf } from './task-queues.js';

export interface QueueNeed {
  queue: string;
  /** What a worker must poll the queue for. */
  tasks: 'workflow' | 'activity';
  /** What chose the queue: a spec field, its default, or the workflow task queue. */
  chosenBy: string;
  /** The worker that would poll it. */
  remedy: string;
}

function singleWorker(workflowQueue: string): string {
  return `start a worker without ETCD_STRETCH_CLUSTER on ETCD_STRETCH_TASK_QUEUE=${workflowQueue}`;
}

/** The workflow task queue (ETCD_STRETCH_TASK_QUEUE of the CLI): workflow tasks. */
export function workflowQueueNeed(spec: MigrationSpec, workflowQueue: string): QueueNeed {
  return {
    queue: workflowQueue,
    tasks: 'workflow',
    chosenBy: 'the workflow task queue',
    remedy:
      spec.workers.mode === 'per-cluster'
        ? `start the clusters' workers (ETCD_STRETCH_CLUSTER=<context>) with ETCD_STRETCH_TASK_QUEUE=${workflowQueue}`
        : singleWorker(workflowQueue),
  };
}

/** The queue the activities of `side` go to (`workflowQueue`: the run's own, single mode). */
export function activityQueueNeed(spec: MigrationSpec, side: Side, workflowQueue: string): QueueNeed {
  const queue = taskQueueOf(spec, side);
  if (queue === undefined) {
    return {
      queue: workflowQueue,
      tasks: 'activity',
      chosenBy:
        "the workflow task queue: workers.mode single sends every activity there, and per-cluster workers serve activities only on their own cluster's queue",
      remedy: singleWorker(workflowQueue),
    };
  }
  const context = spec[side].context;
  return {
    queue,
    tasks: 'activity',
    chosenBy:
      spec.workers[side].taskQueue !== undefined
        ? `workers.${side}.taskQueue`
        : `the default of workers.${side}.taskQueue for ${side}.context "${context}"`,
    remedy: `start the ${side} cluster's worker with ETCD_STRETCH_CLUSTER=${context} and ETCD_STRETCH_ACTIVITY_TASK_QUEUE=${queue}`,
  };
}

/** Every queue a run of `spec` on `workflowQueue` needs a worker on, each once. */
export function queueNeeds(spec: MigrationSpec, workflowQueue: string): QueueNeed[] {
  const needs = [
    workflowQueueNeed(spec, workflowQueue),
    activityQueueNeed(spec, 'source', workflowQueue),
    activityQueueNeed(spec, 'target', workflowQueue),
  ];
  return needs.filter(
    (need, i) => needs.findIndex((n) => n.queue === need.queue && n.tasks === need.tasks) === i,
  );
}

export function noWorkerMessage(need: QueueNeed): string {
  const tasks = need.tasks === 'workflow' ? 'workflow tasks' : 'activities';
  return `no worker polls task queue "${need.queue}" for ${tasks} (${need.chosenBy}): ${need.remedy}`;
}
