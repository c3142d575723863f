/** Removes what a benchmark run made: its namespaces in both clusters and its CoreDNS entries. */
import fs from 'node:fs';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kubeconfigPath } from '../../sandbox/config.js';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { clusterClient, waitFor, type ClusterClient } from '../../test/helpers/kube.js';

export async function cleanUpRun(namespace: string, spec?: Record<string, unknown>): Promise<void> {
  if (spec) {
    const parsed = parseMigrationSpec(spec);
    if (parsed.ok) {
      await removeDnsEntries(
        { clients: kubeClientFactory(kubeconfigPath()) },
        { spec: parsed.spec, side: 'source', strategy: parsed.spec.dns.sourceCluster, hostnames: 'all' },
      ).catch(() => undefined);
    }
  }
  const clusters = [clusterClient('source'), clusterClient('target')];
  for (const c of clusters) await c.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  // The sandbox's volumes are retained (reclaim policy Retain): once the pods are gone, free the disk.
  for (const c of clusters) {
    const gone = await waitFor(
      `namespace ${namespace} gone from ${c.name}`,
      () =>
        c.core.readNamespace({ name: namespace }).then(
          () => undefined,
          () => true,
        ),
      { timeoutMs: 180_000, intervalMs: 1000 },
    ).catch(() => false);
    if (!gone) continue;
    for (const pv of (await c.core.listPersistentVolume()).items) {
      if (pv.spec?.claimRef?.namespace !== namespace) continue;
      await releaseVolume(c, pv.metadata!.name!);
      if (pv.spec.hostPath?.path) fs.rmSync(pv.spec.hostPath.path, { recursive: true, force: true });
    }
  }
}

/** Deletes a released volume; the sandbox runs no PV-protection controller, so its finalizer goes too. */
export async function releaseVolume(c: ClusterClient, name: string): Promise<void> {
  await c.core.deletePersistentVolume({ name }).catch(() => undefined);
  await c.core
    .patchPersistentVolume(
      { name, body: { metadata: { finalizers: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    .catch(() => undefined);
}
