/**
 * The task queues a spec needs workers on, and the messages of the CLI's worker check and of the
 * workflow's guard: each names the queue, what chose it and the worker to run.
 */
import { describe, expect, it } from 'vitest';
import { workerCheckRefusal } from '../../client/worker-check.js';
import { activityQueueNeed, noWorkerMessage, queueNeeds } from '../../core/routing/worker-needs.js';
import { makeSpec } from './fixtures/migration-spec.js';

const single = makeSpec();
const perCluster = makeSpec((s) => (s.workers = { mode: 'per-cluster', target: { taskQueue: 'tgt-q' } }));

describe('queueNeeds', () => {
  it('single: workflow and activity tasks on the workflow task queue', () => {
    expect(queueNeeds(single, 'wf').map((n) => [n.queue, n.tasks])).toEqual([
      ['wf', 'workflow'],
      ['wf', 'activity'],
    ]);
  });

  it("per-cluster: the workflow queue, and each cluster's queue (named or by default) for activities", () => {
    expect(queueNeeds(perCluster, 'wf').map((n) => [n.queue, n.tasks, n.chosenBy])).toEqual([
      ['wf', 'workflow', 'the workflow task queue'],
      [
        'etcd-stretch-source',
        'activity',
        'the default of workers.source.taskQueue for source.context "source"',
      ],
      ['tgt-q', 'activity', 'workers.target.taskQueue'],
    ]);
  });
});

describe('noWorkerMessage', () => {
  it('per-cluster: names the queue, the spec field and the per-cluster worker to run', () => {
    expect(noWorkerMessage(activityQueueNeed(perCluster, 'target', 'wf'))).toBe(
      'no worker polls task queue "tgt-q" for activities (workers.target.taskQueue): start the target cluster\'s worker with ETCD_STRETCH_CLUSTER=target and ETCD_STRETCH_ACTIVITY_TASK_QUEUE=tgt-q',
    );
  });

  it('single: names the workflow task queue and a worker without ETCD_STRETCH_CLUSTER', () => {
    const message = noWorkerMessage(activityQueueNeed(single, 'target', 'wf'));
    expect(message).toContain('no worker polls task queue "wf" for activities (the workflow task queue');
    expect(message).toContain('start a worker without ETCD_STRETCH_CLUSTER on ETCD_STRETCH_TASK_QUEUE=wf');
  });
});

describe('workerCheckRefusal', () => {
  it('none when nothing is missing', () => {
    expect(workerCheckRefusal(single, [])).toBeNull();
  });

  it('one line per worker to start: a single queue with no poller at all is one', () => {
    const refusal = workerCheckRefusal(single, queueNeeds(single, 'wf'));
    expect(refusal).toBe(
      'not started: no worker polls task queue "wf" for workflow tasks (the workflow task queue): start a worker without ETCD_STRETCH_CLUSTER on ETCD_STRETCH_TASK_QUEUE=wf.\n' +
        'A worker that starts later is fine: pass --no-worker-check (the run fails if no worker picks up its preflight within deadlines.workerPickup, 5m).',
    );
  });

  it('lists each missing worker', () => {
    const [, source, target] = queueNeeds(perCluster, 'wf');
    const refusal = workerCheckRefusal(perCluster, [source!, target!]) ?? '';
    expect(refusal.split('\n').slice(0, 3)).toEqual([
      'not started: the spec needs workers that do not run now:',
      `- ${noWorkerMessage(source!)}`,
      `- ${noWorkerMessage(target!)}`,
    ]);
    expect(refusal).toContain('--no-worker-check');
  });
});
