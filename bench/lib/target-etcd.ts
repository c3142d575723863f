/**
 * A fresh etcd StatefulSet `etcd-main` in cluster `target` for the baseline methods: the article's
 * manifest renamed, with its own cluster token. `waitForRestore` makes each member wait until a
 * data directory has been restored into its volume (snapshot-restore) before starting etcd.
 */
import type { KubernetesObject, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { apply, clusterClient, isReady, waitFor, type ClusterClient } from '../../test/helpers/kube.js';
import type { EtcdMinor } from '../../test/helpers/tls-sources.js';
import { articleManifests } from './source-etcd.js';

export const TARGET_STS = 'etcd-main';

export function targetManifests(
  namespace: string,
  replicas: number,
  waitForRestore: boolean,
  etcd?: EtcdMinor,
): KubernetesObject[] {
  const objects = articleManifests(namespace, replicas, { etcd });
  for (const o of objects) {
    o.metadata = { ...o.metadata, name: TARGET_STS, labels: { app: TARGET_STS } };
    if (o.kind === 'Service') (o as V1Service).spec!.selector = { app: TARGET_STS };
    if (o.kind !== 'StatefulSet') continue;
    const sts = o as V1StatefulSet;
    sts.spec!.serviceName = TARGET_STS;
    sts.spec!.selector = { matchLabels: { app: TARGET_STS } };
    sts.spec!.template.metadata = { labels: { app: TARGET_STS } };
    delete sts.spec!.template.spec!.affinity;
    const container = sts.spec!.template.spec!.containers[0]!;
    const cluster = initialCluster(replicas);
    container.args = container.args!.map((a) => {
      if (!a.includes('--initial-cluster')) return a;
      const script = a
        .replace(/\$HOSTNAME\.etcd:/g, `$HOSTNAME.${TARGET_STS}:`)
        .replace(/--initial-cluster \S+/, `--initial-cluster ${cluster}`)
        .replace(/--initial-cluster-token=\S+/, `--initial-cluster-token=${TARGET_STS}-bench`);
      return waitForRestore ? `while [ ! -d /var/lib/etcd/member ]; do sleep 0.2; done\n${script}` : script;
    });
  }
  return objects;
}

export function initialCluster(replicas: number): string {
  return Array.from(
    { length: replicas },
    (_, i) => `${TARGET_STS}-${i}=http://${TARGET_STS}-${i}.${TARGET_STS}:2380`,
  ).join(',');
}

export async function deployTargetEtcd(
  namespace: string,
  replicas: number,
  opts: { waitForRestore: boolean; etcd?: EtcdMinor },
): Promise<{ pods: V1Pod[]; endpoints: string[] }> {
  const target = clusterClient('target');
  await apply(target, targetManifests(namespace, replicas, opts.waitForRestore, opts.etcd));
  const pods = await waitFor(
    `${replicas} ${opts.waitForRestore ? 'running' : 'ready'} ${TARGET_STS} pods`,
    async () => {
      const pods = (
        await target.core.listNamespacedPod({ namespace, labelSelector: `app=${TARGET_STS}` })
      ).items.filter(
        (p) => p.status?.podIP && (opts.waitForRestore ? p.status.phase === 'Running' : isReady(p)),
      );
      return pods.length === replicas
        ? pods.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!))
        : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
  return { pods, endpoints: pods.map((p) => `http://${p.status!.podIP}:2379`) };
}

/** The host directory behind a pod's data volume (the sandbox's provisioner makes one per claim). */
export async function dataDirOf(c: ClusterClient, namespace: string, pod: string): Promise<string> {
  return waitFor(
    `the volume of ${pod}`,
    async () => {
      const pvc = await c.core.readNamespacedPersistentVolumeClaim({ namespace, name: `data-${pod}` });
      if (!pvc.spec?.volumeName) return undefined;
      const pv = await c.core.readPersistentVolume({ name: pvc.spec.volumeName });
      return pv.spec?.hostPath?.path;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}
