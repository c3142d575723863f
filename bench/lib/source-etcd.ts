/**
 * The benchmark's source cluster: the article's StatefulSet in a fresh namespace of cluster
 * `source`, with N members, seed keys, an optional grown backend, and a fidelity fixture
 * (keys whose revisions and lease must survive the migration).
 */
import path from 'node:path';
import type { KubernetesObject, V1StatefulSet } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { REPO_ROOT } from '../../sandbox/config.js';
import { ETCD_IMAGES, type EtcdMinor } from '../../test/helpers/tls-sources.js';
import {
  apply,
  createNamespace,
  loadManifests,
  readyPods,
  type ClusterClient,
} from '../../test/helpers/kube.js';

/** The sandbox registers 4 nodes per cluster; with more members the required anti-affinity cannot be met. */
export const SANDBOX_NODES = 4;

/**
 * The article's manifests for `replicas` members (its `--initial-cluster` lists three);
 * `snapshotCount` sets etcd's `--snapshot-count` (raft entries between two raft snapshots);
 * `etcd` the etcd minor version of the image (default the article's 3.4; its flags are the same).
 */
export function articleManifests(
  namespace: string,
  replicas: number,
  opts: { snapshotCount?: number; etcd?: EtcdMinor } = {},
): KubernetesObject[] {
  const objects = loadManifests(path.join(REPO_ROOT, 'test/fixtures/article-etcd.yaml'), namespace);
  for (const o of objects) {
    if (o.kind !== 'StatefulSet') continue;
    const sts = o as V1StatefulSet;
    sts.spec!.replicas = replicas;
    const container = sts.spec!.template.spec!.containers[0]!;
    if (opts.etcd) container.image = ETCD_IMAGES[opts.etcd];
    const cluster = Array.from({ length: replicas }, (_, i) => `etcd-${i}=http://etcd-${i}.etcd:2380`).join(
      ',',
    );
    container.args = container.args!.map((a) => {
      const withCluster = a.replace(/--initial-cluster etcd-0=\S+/, `--initial-cluster ${cluster}`);
      return opts.snapshotCount === undefined
        ? withCluster
        : withCluster.replace(
            /--auto-compaction-retention=\S+/,
            (flag) => `${flag} --snapshot-count=${opts.snapshotCount}`,
          );
    });
    if (replicas > SANDBOX_NODES) delete sts.spec!.template.spec!.affinity;
  }
  return objects;
}

export interface SourceEtcd {
  namespace: string;
  endpoints: string[];
}

export async function deploySourceEtcd(
  source: ClusterClient,
  opts: { replicas: number; keys: number; prefix?: string; snapshotCount?: number; etcd?: EtcdMinor },
): Promise<SourceEtcd> {
  const namespace = await createNamespace(source, opts.prefix ?? 'bench');
  await apply(
    source,
    articleManifests(namespace, opts.replicas, { snapshotCount: opts.snapshotCount, etcd: opts.etcd }),
  );
  const pods = await readyPods(source, namespace, 'app=etcd', opts.replicas, 180_000);
  const endpoints = pods.map((p) => `http://${p.status!.podIP}:2379`);
  const seed = new Etcd3({ hosts: endpoints });
  try {
    for (let i = 0; i < opts.keys; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, opts.keys - i) }, (_, j) =>
          seed.put(`data/${i + j}`).value(`seed-${i + j}`),
        ),
      );
    }
  } finally {
    seed.close();
  }
  return { namespace, endpoints };
}

export async function backendSize(endpoints: string[]): Promise<{ dbSize: number; dbSizeInUse: number }> {
  const c = new Etcd3({ hosts: endpoints });
  try {
    const s = await c.maintenance.status();
    return { dbSize: Number(s.dbSize), dbSizeInUse: Number(s.dbSizeInUse) };
  } finally {
    c.close();
  }
}

/** Grows the backend to about `bytes` by overwriting the same 100 keys (many revisions, one live value each). */
export async function growBackend(
  endpoints: string[],
  bytes: number,
  valueBytes = 64 * 1024,
): Promise<{ dbSize: number; puts: number }> {
  const c = new Etcd3({ hosts: endpoints });
  const value = Buffer.alloc(valueBytes, 'x');
  let puts = 0;
  try {
    for (;;) {
      const s = await c.maintenance.status();
      if (Number(s.dbSize) >= bytes) return { dbSize: Number(s.dbSize), puts };
      const batch = Math.max(8, Math.min(400, Math.ceil((bytes - Number(s.dbSize)) / value.length / 2)));
      for (let i = 0; i < batch; i += 8) {
        await Promise.all(
          Array.from({ length: 8 }, (_, j) => c.put(`bulk/${(puts + i + j) % 100}`).value(value)),
        );
      }
      puts += batch;
    }
  } finally {
    c.close();
  }
}

export interface FidelityFixture {
  keys: { key: string; createRevision: string; modRevision: string; version: string }[];
  leaseId: string;
  leaseKeys: string[];
}

/** Keys with known revisions, and a lease (1 h TTL, never kept alive) with keys attached. */
export async function writeFidelityFixture(endpoints: string[]): Promise<FidelityFixture> {
  const c = new Etcd3({ hosts: endpoints });
  try {
    for (let i = 0; i < 10; i++) {
      await c.put(`fidelity/rev/${i}`).value('first');
      await c.put(`fidelity/rev/${i}`).value('second');
    }
    const lease = await c.leaseClient.leaseGrant({ TTL: 3600, ID: 0 });
    const leaseKeys = Array.from({ length: 5 }, (_, i) => `fidelity/lease/${i}`);
    for (const key of leaseKeys)
      await c.kv.put({ key: Buffer.from(key), value: Buffer.from('leased'), lease: lease.ID });
    const res = await c.getAll().prefix('fidelity/rev/').exec();
    return {
      keys: res.kvs.map((kv) => ({
        key: kv.key.toString(),
        createRevision: kv.create_revision,
        modRevision: kv.mod_revision,
        version: kv.version,
      })),
      leaseId: lease.ID,
      leaseKeys,
    };
  } finally {
    c.close();
  }
}

export interface FidelityCheck {
  revisionsPreserved: boolean;
  leasesPreserved: boolean;
  details: string[];
}

export async function checkFidelity(endpoints: string[], fixture: FidelityFixture): Promise<FidelityCheck> {
  const c = new Etcd3({ hosts: endpoints });
  const details: string[] = [];
  try {
    const res = await c.getAll().prefix('fidelity/').exec();
    const byKey = new Map(res.kvs.map((kv) => [kv.key.toString(), kv]));
    let revisionsPreserved = true;
    for (const k of fixture.keys) {
      const kv = byKey.get(k.key);
      if (!kv || kv.create_revision !== k.createRevision || kv.mod_revision !== k.modRevision) {
        revisionsPreserved = false;
        details.push(
          `${k.key}: create/mod revision ${k.createRevision}/${k.modRevision} before, ` +
            (kv ? `${kv.create_revision}/${kv.mod_revision} after` : 'absent after'),
        );
      }
    }
    const ttl = await c.leaseClient.leaseTimeToLive({ ID: fixture.leaseId, keys: true });
    const attached = new Set((ttl.keys ?? []).map((k) => Buffer.from(k).toString()));
    const keysLeased = fixture.leaseKeys.every(
      (k) => attached.has(k) && byKey.get(k)?.lease === fixture.leaseId,
    );
    const leasesPreserved = Number(ttl.TTL) > 0 && keysLeased;
    if (!leasesPreserved)
      details.push(
        `lease ${fixture.leaseId}: TTL ${ttl.TTL}, ${attached.size} keys attached; ` +
          fixture.leaseKeys.map((k) => `${k} lease=${byKey.get(k)?.lease ?? 'absent'}`).join(', '),
      );
    return { revisionsPreserved, leasesPreserved, details };
  } finally {
    c.close();
  }
}
