/**
 * Rollback without the target (issue #16 item 4): the target cluster's API server is gone when
 * an abort rolls the join back. The undos that delete Kubernetes objects there fail; the
 * rollback goes past them, still removes every new member from etcd and undoes everything in
 * the source, tries the lost cluster's later calls once each, and the result says what stays.
 * With a worker per cluster, the lost cluster's worker is gone too: its undos stop waiting.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { abortSignal } from '../../workflows/messages.js';
import { createFakeActivities, type Call } from './fake-activities.js';
import {
  allGates,
  perClusterWorkersSpec,
  runWithFakes,
  statusOf,
  testSpec,
  useTestEnvironment,
  waitForStatus,
  workflowBundle,
} from './harness.js';

const env = useTestEnvironment();

/** A Kubernetes call to the target cluster (the undos of what the migration made there). */
function touchesTarget(c: Call): boolean {
  if (c.name === 'shrinkTarget') return true;
  if (['deleteMemberServices', 'deleteHeadlessService', 'removeDns'].includes(c.name))
    return c.detail.startsWith('target');
  return false;
}

const unavailable = (retryable: boolean) =>
  ApplicationFailure.create({
    message: 'delete statefulsets.apps "etcd-main": cannot reach the API server (ECONNREFUSED)',
    type: 'KubernetesUnavailable',
    nonRetryable: !retryable,
  });

describe('rollback without the target', () => {
  it('goes past the undos the lost target cannot run, removes every new member, and reports what stays', async () => {
    const attempts: { call: string; attempt: number }[] = [];
    const { result, fake } = await runWithFakes(
      env(),
      { gates: allGates('auto', { leader: 'manual' }) },
      {
        // The first undo there fails for good (as after its whole retry policy); the later ones
        // fail retryably: with one attempt each they are not retried.
        failWhen: (c, attempt) => {
          if (!touchesTarget(c)) return undefined;
          attempts.push({ call: `${c.name} ${c.detail}`, attempt });
          return unavailable(attempts.length > 1);
        },
      },
      async (h) => {
        await waitForStatus(h, 'leader gate', (s) => s.waitingFor?.kind === 'approval');
        await h.signal(abortSignal, { by: 'erin', reason: 'the target cluster is gone' });
        const r = await h.result();
        const history = await h.fetchHistory();
        await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);
        return { r, status: await statusOf(h) };
      },
    );
    const { r, status } = result;
    expect(r.outcome).toBe('aborted');

    // The source is back to its original voters: every new member left etcd, newest first.
    expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    const calls = fake.calls.map((c) => `${c.name} ${c.detail}`.trim());
    const removals = calls.filter((c) => c.startsWith('removeLearner'));
    expect(removals).toEqual([
      'removeLearner etcd-main-2',
      'removeLearner etcd-main-1',
      'removeLearner etcd-main-0',
    ]);
    // Every undo in the source ran, after the failed ones in the target.
    expect(calls.some((c) => c.startsWith('removeDns source etcd-main-0'))).toBe(true);
    expect(calls).toContain('deleteMemberServices source etcd-0,etcd-1,etcd-2');
    expect(fake.world.dns.source.size).toBe(0);
    expect(fake.world.memberServices.source.size).toBe(0);

    // Each target undo was tried; after the first, once each.
    expect(attempts.map((a) => a.call)).toEqual([
      'shrinkTarget 2 etcd-main-2',
      'shrinkTarget 1 etcd-main-1',
      'shrinkTarget 0 etcd-main-0',
      expect.stringMatching(/^removeDns target etcd-0/),
      'deleteMemberServices target etcd-main-0,etcd-main-1,etcd-main-2',
      'deleteHeadlessService target',
    ]);
    expect(attempts.every((a) => a.attempt === 1)).toBe(true);

    // What stays in the target, in the result and the status.
    expect(r.leftBehind).toBeDefined();
    expect(r.leftBehind!.members).toEqual([]);
    expect(r.leftBehind!.objects.source).toBeUndefined();
    expect(r.leftBehind!.objects.target).toEqual([
      'pod etcd-main-2 of StatefulSet etcd-main in target/default (not scaled back to 2) and its PersistentVolumeClaims',
      'pod etcd-main-1 of StatefulSet etcd-main in target/default (not scaled back to 1) and its PersistentVolumeClaims',
      'StatefulSet etcd-main in target/default with pod etcd-main-0 and its PersistentVolumeClaims',
      'headless Service etcd-main in target/default',
      'DNS entries for etcd-0, etcd-0.etcd, etcd-1, etcd-1.etcd, etcd-2, etcd-2.etcd (hostAliases of the new StatefulSet in target/default)',
      'LoadBalancer Services etcd-main-0-lb, etcd-main-1-lb, etcd-main-2-lb in target/default',
    ]);
    expect(r.leftBehind!.undos).toHaveLength(6);
    expect(r.leftBehind!.undos[0]!.error).toMatch(/cannot reach the API server/);
    expect(r.reason).toMatch(/aborted by erin: the target cluster is gone; rolled back, no new member left/);
    expect(r.reason).toMatch(/6 undo\(s\) could not run, left behind in target: pod etcd-main-2/);
    expect(status.leftBehind).toEqual(r.leftBehind);
    expect(status.compensations.filter((c) => c.state === 'failed')).toHaveLength(6);
    expect(status.compensations.filter((c) => c.state === 'done').length).toBeGreaterThan(0);
    // The steps whose objects stay are still in effect; the rest is undone.
    const stateOf = (id: string) => status.plan!.steps.find((s) => s.id === id)?.state;
    expect(stateOf('join/etcd-main-1/scale-target')).toBe('done');
    expect(stateOf('join/etcd-main-1/add-learner')).toBe('undone');
    expect(stateOf('expose/source/create-member-services')).toBe('undone');
    expect(stateOf('expose/target/create-member-services')).toBe('done');
  });

  it('still stops at a failed removal of a new member: its DNS entries and load balancers stay', async () => {
    const { result, fake } = await runWithFakes(
      env(),
      { gates: allGates('auto', { leader: 'manual' }) },
      {
        failWhen: (c) =>
          c.name === 'removeLearner' && c.detail === 'etcd-main-1'
            ? ApplicationFailure.nonRetryable('refused: remove etcd-main-1', 'QuorumAtRisk')
            : undefined,
      },
      async (h) => {
        await waitForStatus(h, 'leader gate', (s) => s.waitingFor?.kind === 'approval');
        await h.signal(abortSignal, { by: 'erin', reason: 'test' });
        return { err: await h.result().catch((e: unknown) => e), status: await statusOf(h) };
      },
    );
    expect(result.err).toBeInstanceOf(WorkflowFailedError);
    const calls = fake.calls.map((c) => `${c.name} ${c.detail}`.trim());
    expect(calls).not.toContain('removeLearner etcd-main-0');
    expect(calls.some((c) => c.startsWith('removeDns'))).toBe(false);
    expect(result.status.compensations.find((c) => c.state === 'failed')?.title).toMatch(/etcd-main-1/);
    expect(result.status.leftBehind).toBeNull();
  });

  it("per-cluster: the target's worker is lost with its cluster; its undos give up waiting for it", async () => {
    const fake = createFakeActivities();
    const id = randomUUID();
    const queues = { workflow: `wf-${id}`, source: `src-${id}`, target: `tgt-${id}` };
    const connection = env().nativeConnection;
    const workflowWorker = await Worker.create({
      connection,
      taskQueue: queues.workflow,
      workflowBundle: await workflowBundle(),
    });
    const [source, target] = await Promise.all(
      [queues.source, queues.target].map((taskQueue) =>
        Worker.create({ connection, taskQueue, activities: fake.activities }),
      ),
    );
    const running = [source!.run(), target!.run()];
    const { r, status } = await workflowWorker.runUntil(async () => {
      const h = await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue: queues.workflow,
        workflowId: `lost-worker-${id}`,
        args: [
          {
            spec: testSpec({
              gates: allGates('auto', { leader: 'manual' }),
              workers: perClusterWorkersSpec(queues),
              deadlines: { step: '3s' },
            }),
          },
        ],
      });
      await waitForStatus(h, 'leader gate', (s) => s.waitingFor?.kind === 'approval');
      target!.shutdown();
      await running[1];
      await h.signal(abortSignal, { by: 'erin', reason: 'the target cluster is gone' });
      return { r: await h.result(), status: await statusOf(h) };
    });
    source!.shutdown();
    await running[0];

    expect(r.outcome).toBe('aborted');
    expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    expect(fake.world.memberServices.source.size).toBe(0);
    const failed = status.compensations.filter((c) => c.state === 'failed');
    expect(failed).toHaveLength(6);
    for (const c of failed)
      expect(c.error).toMatch(
        /^no worker of the target cluster picked it up in time \(activity ScheduleToStart timeout\)$/,
      );
    expect(r.leftBehind?.objects.target).toContain('headless Service etcd-main in target/default');
    expect(r.leftBehind?.members).toEqual([]);
  });
});
