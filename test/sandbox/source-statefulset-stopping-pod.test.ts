/**
 * Cleanup deletes the source StatefulSet only once none of its pods runs any more: the last
 * scale-down returns as the pod's stop begins, and a pod that takes its time to stop must not be
 * left behind by a StatefulSet that is gone. A finalizer holds the last pod in its stop here
 * until the test lets it go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { deleteSourceStatefulSet } from '../../activities/kubernetes/source-statefulset.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { readyPods, waitFor, type ClusterClient } from '../helpers/kube.js';
import {
  createHeadlessEtcdService,
  sourceNamespaceWithWorker,
  statefulSetExists,
  type kubeEnv,
} from './kubernetes-fixtures.js';

const HOLD = 'etcd-stretch.test/hold';

describe('cleanup and a source pod still stopping', () => {
  let source: ClusterClient;
  let ns: string;
  let spec: MigrationSpec;
  let worker: ReturnType<typeof kubeEnv>;
  const cleanups: (() => Promise<void>)[] = [];

  const etcdSetExists = () => statefulSetExists(source, ns, 'etcd');
  const pods = async () => (await source.core.listNamespacedPod({ namespace: ns })).items;
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  beforeAll(async () => {
    ({ source, ns, spec, worker } = await sourceNamespaceWithWorker('stopping-pod', cleanups));
    await createHeadlessEtcdService(source, ns);
    await source.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'etcd' },
        spec: {
          replicas: 1,
          serviceName: 'etcd',
          selector: { matchLabels: { app: 'etcd' } },
          template: {
            metadata: { labels: { app: 'etcd' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                { name: 'etcd', image: 'gcr.io/etcd-development/etcd:v3.5.17', command: ['sleep', '3600'] },
              ],
            },
          },
        },
      },
    });
    await readyPods(source, ns, 'app=etcd', 1);
    // A pod whose stop has begun and does not end until the test takes the finalizer off.
    await source.core.patchNamespacedPod(
      { name: 'etcd-0', namespace: ns, body: { metadata: { finalizers: [HOLD] } } },
      mergePatch,
    );
    cleanups.push(async () => {
      await source.core
        .patchNamespacedPod(
          { name: 'etcd-0', namespace: ns, body: { metadata: { finalizers: null } } },
          mergePatch,
        )
        .catch(() => undefined);
    });
    await source.apps.patchNamespacedStatefulSetScale(
      { name: 'etcd', namespace: ns, body: { spec: { replicas: 0 } } },
      mergePatch,
    );
    await waitFor(
      'etcd-0 stopping',
      async () => (await pods()).some((p) => p.metadata?.deletionTimestamp) || undefined,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('waits for the pod to be gone before it deletes the StatefulSet', async () => {
    const beats: unknown[] = [];
    const deletion = deleteSourceStatefulSet(
      { ...worker(), rc: { heartbeat: (d: unknown) => beats.push(d) } },
      { spec },
    );
    deletion.catch(() => undefined);
    await waitFor(
      'the cleanup waiting for etcd-0',
      () =>
        Promise.resolve(
          beats.some((b) => JSON.stringify(b).includes('etcd-0 of etcd to finish stopping')) || undefined,
        ),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(await etcdSetExists()).toBe(true);

    await source.core.patchNamespacedPod(
      { name: 'etcd-0', namespace: ns, body: { metadata: { finalizers: null } } },
      mergePatch,
    );
    expect(await deletion).toEqual({ deletedStatefulSet: true, deletedService: true, labelledPvcs: [] });
    expect(await etcdSetExists()).toBe(false);
    expect(await pods()).toEqual([]);
  });
});
