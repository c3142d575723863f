import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { LAYOUTS, clusterDir } from '../../sandbox/config.js';
import { bridgeMac } from '../../sandbox/network.js';

const bridgeMacNow = () =>
  /link\/ether ([0-9a-f:]+)/.exec(
    execFileSync('ip', ['link', 'show', LAYOUTS.source.bridge], { encoding: 'utf8' }),
  )?.[1];
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  loadManifests,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';

const FIXTURE = 'test/fixtures/article-etcd.yaml';

describe("the article's etcd StatefulSet in the source cluster", () => {
  let source: ClusterClient;
  let ns: string;

  beforeAll(async () => {
    source = clusterClient('source');
    ns = await createNamespace(source, 'article');
    await apply(source, loadManifests(FIXTURE, ns));
  });
  afterAll(async () => {
    await deleteNamespace(source, ns);
  });

  it('becomes 3 Ready pods on 3 distinct nodes forming one healthy 3-member etcd cluster', async () => {
    const pods = await readyPods(source, ns, 'app=etcd', 3);
    expect(pods.map((p) => p.metadata?.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(3);
    const ips = pods.map((p) => p.status!.podIP!);
    expect(new Set(ips).size).toBe(3);
    for (const ip of ips) expect(ip).toMatch(/^198\.18\.1\./);

    const client = new Etcd3({ hosts: ips.map((ip) => `http://${ip}:2379`) });
    try {
      const members = await client.cluster.memberList({ linearizable: true });
      expect(members.members.map((m) => m.name).sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
      expect(members.members.every((m) => m.peerURLs[0] === `http://${m.name}.etcd:2380`)).toBe(true);
    } finally {
      client.close();
    }

    const writer = new Etcd3({ hosts: `http://${ips[0]}:2379` });
    const reader = new Etcd3({ hosts: `http://${ips[2]}:2379` });
    try {
      const value = `written-through-etcd-0-${Date.now()}`;
      await writer.put('sandbox/check').value(value);
      expect(await reader.get('sandbox/check').string()).toBe(value);
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('scales down by removing the highest ordinal pod, keeps its PVC, and reuses it on scale-up', async () => {
    const before = await readyPods(source, ns, 'app=etcd', 3);
    const pvcBefore = await source.core.readNamespacedPersistentVolumeClaim({
      name: 'data-etcd-2',
      namespace: ns,
    });
    const memberIdOf = async (ip: string) => {
      const c = new Etcd3({ hosts: `http://${ip}:2379` });
      try {
        return (await c.maintenance.status()).header.member_id;
      } finally {
        c.close();
      }
    };
    const etcd2Id = await memberIdOf(before[2]!.status!.podIP!);

    await source.apps.patchNamespacedStatefulSetScale(
      { name: 'etcd', namespace: ns, body: { spec: { replicas: 2 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const two = await waitFor(
      'etcd-2 gone',
      async () => {
        const pods = (await source.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=etcd' }))
          .items;
        return pods.length === 2 ? pods : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(two.map((p) => p.metadata?.name).sort()).toEqual(['etcd-0', 'etcd-1']);
    expect(two.map((p) => p.metadata?.uid).sort()).toEqual(
      before
        .slice(0, 2)
        .map((p) => p.metadata?.uid)
        .sort(),
    );
    // The pods' gateway keeps its MAC when a pod's veth leaves the bridge (stale ARP caches stall traffic).
    expect(bridgeMacNow()).toBe(bridgeMac(LAYOUTS.source));
    const pvcKept = await source.core.readNamespacedPersistentVolumeClaim({
      name: 'data-etcd-2',
      namespace: ns,
    });
    expect(pvcKept.metadata?.uid).toBe(pvcBefore.metadata?.uid);
    expect(pvcKept.status?.phase).toBe('Bound');

    await source.apps.patchNamespacedStatefulSetScale(
      { name: 'etcd', namespace: ns, body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const after = await readyPods(source, ns, 'app=etcd', 3);
    expect(after[2]!.metadata?.uid).not.toBe(before[2]!.metadata?.uid);
    const claim = after[2]!.spec?.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName;
    expect(claim).toBe('data-etcd-2');
    const pvcAfter = await source.core.readNamespacedPersistentVolumeClaim({
      name: 'data-etcd-2',
      namespace: ns,
    });
    expect(pvcAfter.metadata?.uid).toBe(pvcBefore.metadata?.uid);
    // Same data directory: the member came back with its own identity instead of a new one.
    expect(await memberIdOf(after[2]!.status!.podIP!)).toBe(etcd2Id);
  });

  it('restarts a crashed container in the same pod (restartPolicy Always) and counts it', async () => {
    const [pod] = (await readyPods(source, ns, 'app=etcd', 3)).slice(1, 2);
    const dir = fs
      .readdirSync(path.join(clusterDir('source'), 'pods'))
      .find((d) => d.startsWith(`${ns}_${pod!.metadata!.name}_${pod!.metadata!.uid!.slice(0, 8)}`))!;
    const pid = Number(fs.readFileSync(path.join(clusterDir('source'), 'pods', dir, 'etcd.pid'), 'utf8'));
    process.kill(-pid, 'SIGKILL');
    const restarted = await waitFor(
      `${pod!.metadata!.name} restarted and Ready`,
      async () => {
        const p = await source.core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: ns });
        const cs = p.status?.containerStatuses?.[0];
        return cs?.restartCount === 1 && cs.ready ? p : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(restarted.metadata?.uid).toBe(pod!.metadata?.uid);
    expect(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    expect(restarted.status?.podIP).toBe(pod!.status?.podIP);
  });
});
