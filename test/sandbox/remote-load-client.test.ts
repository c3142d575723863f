/**
 * The load client as a client of the source cluster: in `es-c-source` it reaches a source member
 * by its name through the cluster's DNS view, and a target pod not at all. Each cluster runs a
 * one-member etcd behind a headless Service. On this host (no namespace), as the benchmarks run
 * it: its priority, a switch of endpoints, and the delays of its timers.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Etcd3 } from 'etcd3';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachClientNetns, type ClientNetns } from '../../sandbox/client-netns.js';
import type { ClusterName } from '../../sandbox/config.js';
import { listSandboxNetns } from '../../sandbox/network.js';
import { isAlive } from '../../sandbox/processes.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';
import { oneMemberEtcd } from './kubernetes-fixtures.js';
import { RemoteLoadClient } from '../helpers/remote-load-client.js';

describe('the remote load client in the source cluster client namespace', () => {
  const clients = {} as Record<ClusterName, ClusterClient>;
  const ns = {} as Record<ClusterName, string>;
  const pod = {} as Record<ClusterName, V1Pod>;
  let clientNs: ClientNetns;
  const launched: RemoteLoadClient[] = [];

  beforeAll(async () => {
    for (const c of ['source', 'target'] as const) {
      clients[c] = clusterClient(c);
      ns[c] = await createNamespace(clients[c], 'remote-load');
      await apply(clients[c], oneMemberEtcd(ns[c], 'etcd', 'etcd-0'));
    }
    for (const c of ['source', 'target'] as const)
      pod[c] = (await readyPods(clients[c], ns[c], 'app=etcd', 1))[0]!;
    clientNs = await attachClientNetns('source', ns.source);
  });

  afterAll(async () => {
    for (const l of launched) l.close();
    await clientNs?.remove();
    for (const c of ['source', 'target'] as const) if (ns[c]) await deleteNamespace(clients[c], ns[c]);
  });

  async function launch(endpoints: string[], prefix: string): Promise<RemoteLoadClient> {
    const l = await RemoteLoadClient.launch({ netns: clientNs, endpoints, opsPerSecond: 50, prefix });
    launched.push(l);
    return l;
  }

  it('writes and reads through a source member by its name, etcd-0.etcd', async () => {
    // the name the member advertises, as the scenario's clients dial it
    const endpoint = 'http://etcd-0.etcd:2379';
    const prefix = 'remote/by-name/';
    const load = await launch([endpoint], prefix);
    await load.start();
    // What the client wrote, seen from here through the pod's IP (this host cannot resolve the name).
    const direct = new Etcd3({ hosts: `http://${pod.source.status!.podIP}:2379` });
    try {
      await waitFor(
        'ten writes of the remote load client',
        async () => (await direct.getAll().prefix(prefix).count()) >= 10 || undefined,
        { timeoutMs: 60_000 },
      );
    } finally {
      direct.close();
    }
    await load.stop();
    const ok = load.history.filter((o) => o.outcome === 'ok');
    expect(ok.filter((o) => o.type === 'put').length).toBeGreaterThanOrEqual(10);
    expect(new Set(ok.map((o) => o.endpoint))).toEqual(new Set([endpoint]));
    // a read returned a value the client wrote
    const written = new Set(ok.filter((o) => o.type === 'put').map((o) => o.value));
    expect(ok.some((o) => o.type === 'get' && o.value !== undefined && written.has(o.value))).toBe(true);
    expect(load.summary().failedOps).toBe(0);
  });

  it('cannot reach a target pod by its IP', async () => {
    const load = await launch([`http://${pod.target.status!.podIP}:2379`], 'remote/target-ip/');
    // dropped on the way: no connection in the warm-up's 15 s
    await expect(load.warmUp()).rejects.toThrow(/timed out/);
    // the same client process reaches the source member: the failure is the network's
    await load.warmUp([`http://${pod.source.status!.podIP}:2379`]);
    await load.stop();
    expect(load.history).toEqual([]);
  });

  it('reports a client process that exits before stop', async () => {
    const load = await launch([`http://etcd-0.etcd.${ns.source}.svc.cluster.local:2379`], 'remote/killed/');
    await load.start();
    process.kill(load.pid, 'SIGKILL');
    await expect(load.stop()).rejects.toThrow(/es-c-source exited \(SIGKILL\) before stop/);
    expect(isAlive(load.pid)).toBe(false);
  });

  it('removes the namespace and what runs in it', async () => {
    const load = await launch([`http://etcd-0.etcd.${ns.source}.svc.cluster.local:2379`], 'remote/removed/');
    await clientNs.remove();
    expect(await listSandboxNetns()).not.toContain(clientNs.netns);
    await expect(load.stop()).rejects.toThrow(/exited .* before stop/);
  });

  it("on this host: runs at the priority asked, switches once the operation in flight has ended, and records its timers' delays", async () => {
    const [a, b] = (['source', 'target'] as const).map((c) => `http://${pod[c].status!.podIP}:2379`);
    const load = await RemoteLoadClient.launch({
      endpoints: [a!],
      opsPerSecond: 100,
      prefix: 'remote/host/',
      recordLag: true,
      nice: -5,
    });
    launched.push(load);
    expect(load.netns).toBe('a child process');
    // Raised as root (CI), its scheduler group too; elsewhere both stay as they were.
    const root = process.getuid?.() === 0;
    expect(load.niceness()?.process).toBe(root ? -5 : os.getPriority());
    if (fs.existsSync('/proc/self/autogroup')) expect(load.niceness()?.group).toBe(root ? -5 : 0);
    await load.warmUp([a!, b!]);
    await load.start();
    // Held still for 300 ms: its timers fire that much late once it goes on.
    process.kill(load.pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 300));
    process.kill(load.pid, 'SIGCONT');
    await load.setEndpoints([b!]);
    const switchedAt = Date.now();
    const onB = new Etcd3({ hosts: b! });
    try {
      await waitFor(
        'writes on the new endpoint',
        async () => (await onB.getAll().prefix('remote/host/').count()) >= 3 || undefined,
        { timeoutMs: 30_000 },
      );
    } finally {
      onB.close();
    }
    await load.stop();
    const ops = load.history.filter((o) => o.outcome === 'ok');
    expect(ops.filter((o) => o.endpoint === a).length).toBeGreaterThan(0);
    expect(ops.filter((o) => o.endpoint === b).length).toBeGreaterThan(0);
    // nothing sent to the old endpoint ended after the switch was acknowledged
    expect(Math.max(...ops.filter((o) => o.endpoint === a).map((o) => o.end))).toBeLessThanOrEqual(
      switchedAt,
    );
    expect(Math.max(0, ...(load.lags ?? []).map((l) => l.ms))).toBeGreaterThanOrEqual(250);
  });
});
