/**
 * DNS confirmation (patch `confirm-dns`): where the worker resolves through the cluster's DNS
 * (per-cluster workers), the run waits after each configure-dns until that cluster answers the
 * member names, before any member depends on them, and says so in `status`. Per-cluster runs
 * use a fake worker per cluster queue (test/workflow/harness.ts runPerCluster); a single worker
 * outside the clusters cannot confirm and does not try.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities, nonRetryable, type Call, type FakeOptions } from './fake-activities.js';
import {
  allGates,
  createWorker,
  perClusterWorkersSpec,
  runPerCluster,
  statusOf,
  testSpec,
  useTestEnvironment,
  waitForStatus,
  workflowBundle,
  type Fake,
  type MigrationHandle,
} from './harness.js';

const env = useTestEnvironment();

const COREDNS_BOTH = {
  sourceCluster: { strategy: 'coredns-hosts' },
  targetCluster: { strategy: 'coredns-hosts' },
};

async function run<T>(
  perCluster: boolean,
  specOverrides: Record<string, unknown>,
  fakeOptions: FakeOptions,
  drive: (handle: MigrationHandle, fake: Fake) => Promise<T>,
): Promise<{ result: T; fake: Fake; handle: MigrationHandle }> {
  const fake = createFakeActivities(fakeOptions);
  let handle: MigrationHandle | undefined;
  const start = async (taskQueue: string, workers?: Record<string, unknown>) => {
    handle = await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
      taskQueue,
      workflowId: `dns-${randomUUID()}`,
      args: [
        { spec: testSpec({ gates: allGates('auto'), ...specOverrides, ...(workers ? { workers } : {}) }) },
      ],
    });
    return drive(handle, fake);
  };
  // Per-cluster workers resolve names through their cluster's DNS; a single worker cannot.
  const result = perCluster
    ? await runPerCluster(
        env(),
        () => fake.activities,
        (queues) => start(queues.workflow, perClusterWorkersSpec(queues)),
      )
    : await (async () => {
        const taskQueue = `dns-${randomUUID()}`;
        const worker = await createWorker(env(), taskQueue, fake.activities);
        return worker.runUntil(start(taskQueue));
      })();
  return { result, fake, handle: handle! };
}

const line = (c: Call) => `${c.name} ${c.detail}`;
const indexOf = (calls: Call[], name: string, detailStart = '') =>
  calls.findIndex((c) => c.name === name && c.detail.startsWith(detailStart));

describe('DNS confirmation', () => {
  it('waits after each configure-dns until that cluster answers, before any member joins, and shows it in status', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { fake, result, handle } = await run(
      true,
      { dns: COREDNS_BOTH },
      {
        holdWhen: (c) =>
          c.name === 'awaitDnsResolution' && c.detail.startsWith('source') ? held : undefined,
      },
      async (h, f) => {
        const waiting = await waitForStatus(
          h,
          'waiting for source DNS',
          (s) => s.waitingFor?.kind === 'dns' && s.waitingFor.cluster === 'source',
        );
        expect(waiting.waitingFor).toMatchObject({
          kind: 'dns',
          cluster: 'source',
          pending: [
            'etcd-main-0',
            'etcd-main-0.etcd-main',
            'etcd-main-1',
            'etcd-main-1.etcd-main',
            'etcd-main-2',
            'etcd-main-2.etcd-main',
          ],
        });
        expect(waiting.step?.id).toBe('dns/source/configure-dns');
        // Both clusters' DNS steps run at the same time: the target's was configured and
        // confirmed while the source's confirmation is still held.
        await waitForStatus(
          h,
          "the target's DNS step done",
          (s) => s.plan?.steps.find((p) => p.id === 'dns/target/configure-dns')?.state === 'done',
        );
        expect(indexOf(f.calls, 'awaitDnsResolution', 'target')).toBeGreaterThan(-1);
        release();
        const outcome = (await h.result()).outcome;
        return { outcome, status: await statusOf(h) };
      },
    );
    expect(result.outcome).toBe('completed');
    expect(result.status.waitingFor).toBeNull();
    const calls = fake.calls;
    const configuredSource = indexOf(calls, 'configureDns', 'source');
    const confirmedSource = indexOf(calls, 'awaitDnsResolution', 'source');
    const configuredTarget = indexOf(calls, 'configureDns', 'target');
    const confirmedTarget = indexOf(calls, 'awaitDnsResolution', 'target');
    const firstJoin = Math.min(indexOf(calls, 'addLearner'), indexOf(calls, 'scaleTarget'));
    expect(configuredSource).toBeGreaterThanOrEqual(0);
    expect(confirmedSource).toBeGreaterThan(configuredSource);
    expect(confirmedTarget).toBeGreaterThan(configuredTarget);
    expect(Math.max(confirmedSource, confirmedTarget)).toBeLessThan(firstJoin);
    expect(
      calls
        .filter((c) => c.name === 'awaitDnsResolution')
        .map(line)
        .sort(),
    ).toEqual([
      'awaitDnsResolution source etcd-main-0,etcd-main-1,etcd-main-2',
      'awaitDnsResolution target etcd-0,etcd-1,etcd-2',
    ]);
    // What the confirmation was asked for is what configure-dns wrote, with the deadline from the spec.
    const note = result.status.plan!.steps.find((s) => s.id === 'dns/source/configure-dns')!.note!;
    expect(note).toMatch(/via coredns-hosts; source DNS answers them/);
    const dnsTimeout = fake.timeouts.find((t) => t.name === 'awaitDnsResolution')!;
    expect(dnsTimeout.startToCloseTimeoutMs).toBe(5 * 60_000 + 60_000);
    // The patched path replays.
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      await handle.fetchHistory(),
      handle.workflowId,
    );
  });

  it('host-aliases entries live in the new pods only: that cluster is not asked', async () => {
    const { fake } = await run(true, {}, {}, async (h) => h.result());
    expect(fake.calls.filter((c) => c.name === 'awaitDnsResolution').map(line)).toEqual([
      'awaitDnsResolution source etcd-main-0,etcd-main-1,etcd-main-2',
    ]);
  });

  it('a cluster whose DNS never answers fails the step, and the rollback removes its DNS entries', async () => {
    const { fake } = await run(
      true,
      { dns: COREDNS_BOTH },
      {
        failWhen: (c) =>
          c.name === 'awaitDnsResolution' && c.detail.startsWith('target')
            ? nonRetryable('gave up waiting for the DNS of the target cluster', 'DeadlineExceeded')
            : undefined,
      },
      async (h) => {
        const err = await h.result().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        return err;
      },
    );
    const calls = fake.calls.map(line);
    // Its confirmation failed (a failed call is not recorded) after the configure.
    const failedAt = calls.indexOf(
      'configureDns target coredns-hosts etcd-0=198.19.1.10,etcd-1=198.19.1.11,etcd-2=198.19.1.12',
    );
    expect(failedAt).toBeGreaterThan(0);
    // The undos, newest first in plan order: the target's DNS entries, then the source's.
    const removedTarget = calls.indexOf(
      'removeDns target etcd-0,etcd-0.etcd,etcd-1,etcd-1.etcd,etcd-2,etcd-2.etcd',
    );
    const removedSource = calls.indexOf(
      'removeDns source etcd-main-0,etcd-main-0.etcd-main,etcd-main-1,etcd-main-1.etcd-main,etcd-main-2,etcd-main-2.etcd-main',
    );
    expect(removedTarget).toBeGreaterThan(failedAt);
    expect(removedSource).toBeGreaterThan(removedTarget);
    expect(calls.slice(failedAt + 1, removedTarget).some((c) => c.startsWith('removeDns'))).toBe(false);
    expect(fake.calls.some((c) => c.name === 'addLearner' || c.name === 'scaleTarget')).toBe(false);
  });

  it('is off with a single worker (it does not resolve through either cluster): no wait, as before', async () => {
    const { fake, result } = await run(false, { dns: COREDNS_BOTH }, {}, async (h) => h.result());
    expect(result.outcome).toBe('completed');
    expect(fake.calls.some((c) => c.name === 'awaitDnsResolution')).toBe(false);
  });
});
