/**
 * The two clusters share nothing but load balancers, as two clusters in two clouds: a worker
 * started with startClusterWorker in `es-w-<cluster>` reaches its own cluster's pods, its API
 * server (through the gateway forwarder, with its ServiceAccount token and the RBAC of
 * deploy/rbac-<cluster>.yaml) and Temporal; of the other cluster only the load balancers. Each
 * cluster runs a one-member etcd with a headless Service and a LoadBalancer Service open to the
 * other cluster's pod range, as the migration's member Services are.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { LAYOUTS, REPO_ROOT, type ClusterName } from '../../sandbox/config.js';
import { startClusterWorker, type ClusterWorker } from '../../sandbox/cluster-worker.js';
import { gatewayOf } from '../../sandbox/network.js';
import { isAlive } from '../../sandbox/processes.js';
import { workerRbac } from '../../sandbox/worker-credentials.js';
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
import type { ReachCheck, ReachOutcome } from '../helpers/netns-reach.js';
import { PersistentDevServer } from '../helpers/temporal-server.js';

const execFileAsync = promisify(execFile);
const OTHER: Record<ClusterName, ClusterName> = { source: 'target', target: 'source' };
const PROBE_ENTRY = 'test/helpers/cluster-worker-probe.ts';

function lookout(ns: string, otherPods: string): KubernetesObject[] {
  const balancer = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'lookout-0-lb', namespace: ns },
    spec: {
      type: 'LoadBalancer',
      loadBalancerSourceRanges: [otherPods],
      selector: { 'statefulset.kubernetes.io/pod-name': 'lookout-0' },
      ports: [{ name: 'client', port: 2379 }],
    },
  };
  return [...oneMemberEtcd(ns, 'lookout', 'lookout'), balancer];
}

/** Runs test/helpers/netns-reach.ts in `netns` with only the worker's kubeconfig. */
async function reachFrom(netns: string, kubeconfig: string, checks: ReachCheck[]): Promise<ReachOutcome[]> {
  const { stdout } = await execFileAsync(
    'ip',
    [
      'netns',
      'exec',
      netns,
      process.execPath,
      '--import',
      'tsx',
      `${REPO_ROOT}/test/helpers/netns-reach.ts`,
      JSON.stringify(checks),
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kubeconfig }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ReachOutcome[];
}

async function inNetns(netns: string, cmd: string[]): Promise<{ ok: boolean; stdout: string }> {
  try {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', netns, ...cmd], { timeout: 20_000 });
    return { ok: true, stdout };
  } catch (err) {
    return { ok: false, stdout: (err as { stdout?: string }).stdout ?? '' };
  }
}

interface ProbeLine {
  pid: number;
  temporalAddress: string;
  temporal: string;
  cluster: string;
  contexts: string[];
  server: string;
  env: string[];
}

/** The probe's report of the process `pid`, once it has written it. */
function probeLine(w: ClusterWorker, pid: number): Promise<ProbeLine> {
  return waitFor(
    `the probe line of pid ${pid} in ${w.logFile}`,
    async () =>
      (await fs.promises.readFile(w.logFile, 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith('{"probe":"cluster-worker"'))
        .map((l) => JSON.parse(l) as ProbeLine)
        .find((l) => l.pid === pid),
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

async function netnsOf(pid: number): Promise<string> {
  return fs.promises.readlink(`/proc/${pid}/ns/net`);
}

async function netnsId(name: string): Promise<string> {
  return `net:[${(await fs.promises.stat(`/run/netns/${name}`)).ino}]`;
}

describe('each cluster worker reaches its own cluster, and the other only through load balancers', () => {
  let temporal: PersistentDevServer;
  const clients = {} as Record<ClusterName, ClusterClient>;
  const ns = {} as Record<ClusterName, string>;
  const pod = {} as Record<ClusterName, V1Pod>;
  const lbIp = {} as Record<ClusterName, string>;
  const workers = {} as Record<ClusterName, ClusterWorker>;

  beforeAll(async () => {
    temporal = await PersistentDevServer.start();
    for (const c of ['source', 'target'] as const) {
      clients[c] = clusterClient(c);
      ns[c] = await createNamespace(clients[c], 'isolation');
      await apply(clients[c], lookout(ns[c], LAYOUTS[OTHER[c]].podSubnet));
    }
    for (const c of ['source', 'target'] as const) {
      pod[c] = (await readyPods(clients[c], ns[c], 'app=lookout', 1))[0]!;
      lbIp[c] = await waitFor(
        `${c}: the load balancer's IP`,
        async () =>
          (await clients[c].core.readNamespacedService({ name: 'lookout-0-lb', namespace: ns[c] })).status
            ?.loadBalancer?.ingress?.[0]?.ip,
        { timeoutMs: 30_000 },
      );
      workers[c] = await startClusterWorker({
        cluster: c,
        temporalAddress: temporal.address,
        namespace: ns[c],
        entry: PROBE_ENTRY,
      });
    }
  });

  afterAll(async () => {
    for (const c of ['source', 'target'] as const) {
      await workers[c]?.stop();
      if (!ns[c]) continue;
      const shared = workerRbac(c, ns[c]).filter(
        (o) => o.kind?.startsWith('Cluster') || o.metadata?.namespace === 'kube-system',
      );
      for (const o of shared) await clients[c].objects.delete(o).catch(() => undefined);
      await deleteNamespace(clients[c], ns[c]);
    }
    await temporal?.stop();
  });

  for (const own of ['source', 'target'] as const) {
    const other = OTHER[own];

    it(`from es-w-${own}: its pods, API server and Temporal; of ${other} only the load balancer`, async () => {
      const w = workers[own];
      const apiPort = (c: ClusterName) => LAYOUTS[c].apiserverPort;
      const temporalPort = temporal.port;
      const [
        ownPod,
        otherPod,
        otherLb,
        listPods,
        listSecrets,
        ownApi,
        otherApi,
        otherApiLoopback,
        ownTemporal,
        otherTemporal,
      ] = await reachFrom(w.netns, w.kubeconfig, [
        { kind: 'http', url: `http://${pod[own].status!.podIP}:2379/health` },
        { kind: 'http', url: `http://${pod[other].status!.podIP}:2379/health` },
        { kind: 'http', url: `http://${lbIp[other]}:2379/health` },
        { kind: 'kube', list: 'pods', namespace: ns[own] },
        { kind: 'kube', list: 'secrets', namespace: ns[own] },
        { kind: 'https-any', url: `https://${gatewayOf(LAYOUTS[own])}:${apiPort(own)}/version` },
        { kind: 'https-any', url: `https://${gatewayOf(LAYOUTS[other])}:${apiPort(other)}/version` },
        // the address of the other cluster in the sandbox's admin kubeconfig
        { kind: 'https-any', url: `https://127.0.0.1:${apiPort(other)}/version` },
        { kind: 'h2', address: `${gatewayOf(LAYOUTS[own])}:${temporalPort}` },
        { kind: 'h2', address: `${gatewayOf(LAYOUTS[other])}:${temporalPort}` },
      ]);
      expect(ownPod).toEqual({ status: 200 });
      expect(otherPod).toHaveProperty('error');
      expect(otherLb).toEqual({ status: 200 });
      // deploy/rbac-<cluster>.yaml: pods may be listed, secrets may not
      expect(listPods).toEqual({ status: 200 });
      expect(listSecrets).toEqual({ status: 403 });
      expect(ownApi).toEqual({ status: 200 });
      expect(otherApi).toEqual({ error: 'ECONNRESET' });
      expect(otherApiLoopback).toEqual({ error: 'ECONNREFUSED' });
      expect(ownTemporal).toEqual({ answered: true });
      expect(otherTemporal).toEqual({ error: 'ECONNRESET' });
    });

    it(`es-w-${own} resolves names as a pod in its namespace does, in ${own} only`, async () => {
      const w = workers[own];
      const short = await waitFor(
        `lookout-0.lookout in ${w.netns}`,
        async () => {
          const r = await inNetns(w.netns, ['getent', 'hosts', 'lookout-0.lookout']);
          return r.ok ? r.stdout : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(short.split(/\s+/)[0]).toBe(pod[own].status!.podIP);
      const otherName = `lookout-0.lookout.${ns[other]}.svc.cluster.local`;
      expect((await inNetns(w.netns, ['getent', 'hosts', otherName])).ok).toBe(false);
    });
  }

  it('gives the worker one kubeconfig context, named after its cluster, with its own token', () => {
    for (const c of ['source', 'target'] as const) {
      const kc = YAML.parse(fs.readFileSync(workers[c].kubeconfig, 'utf8')) as {
        contexts: { name: string; context: { namespace: string } }[];
        clusters: { cluster: { server: string } }[];
        users: { user: Record<string, string> }[];
      };
      expect(kc.contexts.map((x) => [x.name, x.context.namespace])).toEqual([[c, ns[c]]]);
      expect(kc.clusters.map((x) => x.cluster.server)).toEqual([
        `https://${gatewayOf(LAYOUTS[c])}:${LAYOUTS[c].apiserverPort}`,
      ]);
      expect(kc.users.map((u) => Object.keys(u.user))).toEqual([['token']]);
    }
  });

  it('runs the worker process in its namespace with Temporal reachable; after SIGKILL, restart() runs a new one there', async () => {
    const w = workers.source;
    const first = await probeLine(w, w.pid);
    expect(first).toMatchObject({
      temporal: 'ok',
      temporalAddress: `${gatewayOf(LAYOUTS.source)}:${temporal.port}`,
      cluster: 'source',
      contexts: ['source'],
      server: `https://${gatewayOf(LAYOUTS.source)}:${LAYOUTS.source.apiserverPort}`,
    });
    // nothing else in its environment names a cluster or a credential
    expect(first.env.filter((k) => /KUBE|TOKEN|SANDBOX|TEMPORAL|CLUSTER/.test(k)).sort()).toEqual([
      'ETCD_STRETCH_CLUSTER',
      'KUBECONFIG',
      'TEMPORAL_ADDRESS',
    ]);
    const netns = await netnsId(w.netns);
    const old = w.pid;
    expect(await netnsOf(old)).toBe(netns);

    w.kill('SIGKILL');
    await waitFor(`pid ${old} to exit`, () => Promise.resolve(!isAlive(old)), { timeoutMs: 10_000 });
    await w.restart();

    expect(w.pid).not.toBe(old);
    expect(await netnsOf(w.pid)).toBe(netns);
    expect((await probeLine(w, w.pid)).temporal).toBe('ok');
  });
});
