/**
 * Old volumes are never lost by accident (issue #16, item 7): a source StatefulSet with
 * `persistentVolumeClaimRetentionPolicy.whenDeleted: Delete` owns its PVCs (the StatefulSet
 * controller puts owner references on them), so the garbage collector would delete them with it.
 * The cleanup deletes the StatefulSet as the worker does (deploy/ roles only) and the PVCs stay
 * until deleteSourcePvcs, which cleanup.deletePVCs asks for, deletes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { deleteSourcePvcs, deleteSourceStatefulSet } from '../../activities/kubernetes/source-statefulset.js';
import { FORMER_STATEFULSET_LABEL } from '../../activities/kubernetes/labels.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { waitFor, type ClusterClient } from '../helpers/kube.js';
import {
  createHeadlessEtcdService,
  sourceNamespaceWithWorker,
  statefulSetExists,
  type kubeEnv,
} from './kubernetes-fixtures.js';

const PODS = ['etcd-0', 'etcd-1'];
const CLAIMS = PODS.map((p) => `data-${p}`);

describe('cleanup keeps the PVCs of a source StatefulSet with whenDeleted: Delete', () => {
  let source: ClusterClient;
  let ns: string;
  let spec: MigrationSpec;
  let worker: ReturnType<typeof kubeEnv>;
  let uid: string;
  const cleanups: (() => Promise<void>)[] = [];

  const claims = async (): Promise<V1PersistentVolumeClaim[]> =>
    (await source.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.filter((p) =>
      CLAIMS.includes(p.metadata?.name ?? ''),
    );
  const ownedBySet = (p: V1PersistentVolumeClaim) =>
    (p.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);
  const statefulSetGone = async () => !(await statefulSetExists(source, ns, 'etcd'));

  beforeAll(async () => {
    ({ source, ns, spec, worker } = await sourceNamespaceWithWorker('pvc-keep', cleanups));

    await createHeadlessEtcdService(source, ns);
    const sts = await source.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'etcd' },
        spec: {
          replicas: PODS.length,
          serviceName: 'etcd',
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'etcd' } },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
          template: {
            metadata: { labels: { app: 'etcd' } },
            spec: {
              containers: [
                {
                  name: 'etcd',
                  image: 'gcr.io/etcd-development/etcd:v3.5.17',
                  command: ['sleep', '3600'],
                  volumeMounts: [{ name: 'data', mountPath: '/var/lib/etcd' }],
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
            },
          ],
        },
      },
    });
    uid = sts.metadata!.uid!;
    // The controller created the claims and made the StatefulSet their owner (whenDeleted: Delete).
    await waitFor(
      'the PVCs owned by the StatefulSet',
      async () => {
        const found = await claims();
        return found.length === CLAIMS.length && found.every(ownedBySet);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The old members are gone by cleanup: scaled to 0, no pod left.
    await source.apps.patchNamespacedStatefulSetScale(
      { name: 'etcd', namespace: ns, body: { spec: { replicas: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor(
      'the pods of the StatefulSet gone',
      async () => (await source.core.listNamespacedPod({ namespace: ns })).items.length === 0,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('deletes the StatefulSet and its Service; the PVCs outlive it, unowned and labelled', async () => {
    expect((await claims()).every(ownedBySet)).toBe(true);
    expect(await deleteSourceStatefulSet(worker(), { spec })).toEqual({
      deletedStatefulSet: true,
      deletedService: true,
      labelledPvcs: CLAIMS,
    });
    // Until the garbage collector has had its chance: the StatefulSet is gone and each PVC is
    // either no longer owned by it (orphaned: the collector will never delete it) or deleted.
    const after = await waitFor(
      'the StatefulSet gone and each PVC orphaned or deleted',
      async () => {
        if (!(await statefulSetGone())) return undefined;
        const found = await claims();
        const settled = CLAIMS.every((name) => {
          const pvc = found.find((p) => p.metadata?.name === name);
          return !pvc || pvc.metadata?.deletionTimestamp || !ownedBySet(pvc);
        });
        return settled ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(
      after.map((p) => ({
        name: p.metadata?.name,
        deleting: Boolean(p.metadata?.deletionTimestamp),
        ownedBySet: ownedBySet(p),
        label: p.metadata?.labels?.[FORMER_STATEFULSET_LABEL],
      })),
    ).toEqual(CLAIMS.map((name) => ({ name, deleting: false, ownedBySet: false, label: 'etcd' })));
  });

  it('a second run changes nothing and the PVCs are still there', async () => {
    expect(await deleteSourceStatefulSet(worker(), { spec })).toEqual({
      deletedStatefulSet: false,
      deletedService: false,
      labelledPvcs: [],
    });
    const found = await claims();
    expect(found.map((p) => p.metadata?.name).sort()).toEqual(CLAIMS);
    expect(found.some((p) => p.metadata?.deletionTimestamp)).toBe(false);
  });

  it('only deleteSourcePvcs (cleanup.deletePVCs: true) deletes them', async () => {
    expect(await deleteSourcePvcs(worker(), { spec, members: PODS })).toEqual({ deleted: CLAIMS });
    await waitFor('the PVCs gone', async () => (await claims()).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  });
});
