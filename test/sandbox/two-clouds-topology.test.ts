/**
 * The sandbox's two-clouds topology, live: the link between the clusters (shaped in the
 * load-balancer proxies), CoreDNS changes that take their time, and load balancers that report
 * a hostname resolved through the cloud DNS.
 *
 * Across the link means: a client outside the load balancer's own cluster pod subnet. These
 * tests use a pod of the other cluster (across) and a pod of the same cluster (not across).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PatchStrategy,
  setHeaderOptions,
  type V1StatefulSet,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { resolveCloudName } from '../../sandbox/cloud-dns.js';
import { clusterDir, type ClusterName } from '../../sandbox/config.js';
import { netnsEtcDir } from '../../sandbox/network.js';
import { corefileDigest } from '../../sandbox/node-agent/delayed-corefile.js';
import { KIND_TOPOLOGY, setTopology, type SandboxTopology } from '../../sandbox/topology.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  etcdctl,
  inPodNetns,
  podNetns,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';

function singleEtcd(name: string, namespace: string): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'etcd',
              image: 'gcr.io/etcd-development/etcd:v3.5.17',
              command: [
                'etcd',
                `--name=${name}`,
                '--listen-client-urls=http://0.0.0.0:2379',
                '--advertise-client-urls=http://127.0.0.1:2379',
                `--data-dir=/tmp/${name}`,
              ],
            },
          ],
        },
      },
    },
  };
}

function loadBalancer(name: string, namespace: string, app: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'LoadBalancer', selector: { app }, ports: [{ name: 'client', port: 2379 }] },
  };
}

/**
 * One HTTP request to etcd's /health from inside a network namespace: the time from sending
 * the request to the first byte of the answer, or `timedOut` after `timeoutMs`.
 */
const ROUND_TRIP = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) }, () => {
  const t0 = performance.now();
  s.write('GET /health HTTP/1.1\\r\\nHost: etcd\\r\\n\\r\\n');
  s.once('data', (d) => {
    console.log(JSON.stringify({ ms: performance.now() - t0, status: d.toString().split('\\r\\n')[0] }));
    s.destroy();
  });
});
s.setTimeout(Number(timeoutMs), () => {
  console.log(JSON.stringify({ timedOut: true }));
  s.destroy();
});
s.on('error', (e) => {
  console.error(e.message);
  process.exit(1);
});
`;

async function roundTrip(
  netns: string,
  host: string,
  timeoutMs: number,
): Promise<{ ms?: number; status?: string; timedOut?: boolean }> {
  const r = await inPodNetns(netns, [process.execPath, '-e', ROUND_TRIP, host, '2379', String(timeoutMs)]);
  if (!r.ok) throw new Error(`round trip to ${host} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ms?: number; status?: string; timedOut?: boolean };
}

function agentLog(cluster: ClusterName): string {
  return fs.readFileSync(path.join(clusterDir(cluster), 'logs', 'node-agent.log'), 'utf8');
}

function topologiesLogged(cluster: ClusterName, t: SandboxTopology): number {
  return agentLog(cluster)
    .split('\n')
    .map((l) => /\] topology (\{.*\})$/.exec(l)?.[1])
    .filter((json) => json && isDeepStrictEqual(JSON.parse(json), t)).length;
}

/** Sets the topology and waits until both node agents have read it. */
async function useTopology(t: SandboxTopology): Promise<void> {
  const before = { source: topologiesLogged('source', t), target: topologiesLogged('target', t) };
  setTopology(t);
  await waitFor(
    'both node agents to read the topology',
    () =>
      Promise.resolve(
        topologiesLogged('source', t) > before.source && topologiesLogged('target', t) > before.target,
      ),
    { timeoutMs: 15_000 },
  );
}

function withTopology(change: (t: SandboxTopology) => void): SandboxTopology {
  const t = structuredClone(KIND_TOPOLOGY);
  change(t);
  return t;
}

async function readCorefile(c: ClusterClient): Promise<string> {
  return (await c.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })).data!
    .Corefile!;
}

async function writeCorefile(c: ClusterClient, corefile: string): Promise<void> {
  await c.core.patchNamespacedConfigMap(
    { name: 'coredns', namespace: 'kube-system', body: { data: { Corefile: corefile } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** The Corefile with `lines` added to the server block, after `ready`. */
function withLines(corefile: string, lines: string[]): string {
  const out = corefile.replace(/\n {4}ready\n/, `\n    ready\n${lines.map((l) => `    ${l}\n`).join('')}`);
  if (out === corefile) throw new Error('no `ready` line in the Corefile');
  return out;
}

function hostsFile(netns: string): string {
  return fs.readFileSync(path.join(netnsEtcDir(netns), 'hosts'), 'utf8');
}

describe('two clouds in the sandbox', () => {
  let source: ClusterClient;
  let target: ClusterClient;
  let sourceNs: string;
  let targetNs: string;
  let server: V1Pod;
  let lookout: V1Pod;
  let serverLb: string;
  const corefiles: Partial<Record<ClusterName, string>> = {};

  beforeAll(async () => {
    source = clusterClient('source');
    target = clusterClient('target');
    corefiles.source = await readCorefile(source);
    corefiles.target = await readCorefile(target);
    sourceNs = await createNamespace(source, 'topo');
    targetNs = await createNamespace(target, 'topo');
    await apply(source, [singleEtcd('server', sourceNs), loadBalancer('server-lb', sourceNs, 'server')]);
    await apply(target, [singleEtcd('lookout', targetNs)]);
    server = (await readyPods(source, sourceNs, 'app=server', 1))[0]!;
    lookout = (await readyPods(target, targetNs, 'app=lookout', 1))[0]!;
    serverLb = await waitFor(
      'the server load balancer IP',
      async () =>
        (await source.core.readNamespacedService({ name: 'server-lb', namespace: sourceNs })).status
          ?.loadBalancer?.ingress?.[0]?.ip,
      { timeoutMs: 30_000 },
    );
  });

  afterEach(async () => {
    // Other tests share the sandbox: the kind topology and the Corefiles as they were.
    await useTopology(KIND_TOPOLOGY);
    await writeCorefile(source, corefiles.source!);
    await writeCorefile(target, corefiles.target!);
  });

  afterAll(async () => {
    setTopology(KIND_TOPOLOGY);
    await deleteNamespace(source, sourceNs);
    await deleteNamespace(target, targetNs);
  });

  it('delays traffic across the link by the round trip, and traffic within a cluster not at all', async () => {
    await useTopology(withTopology((t) => (t.link.rttMs = 400)));
    const across = podNetns(target, lookout);
    for (let i = 0; i < 3; i++) {
      const r = await roundTrip(across, serverLb, 20_000);
      expect(r.status).toBe('HTTP/1.1 200 OK');
      // Each direction waits half the round trip in the proxy: no answer can come sooner.
      expect(r.ms).toBeGreaterThanOrEqual(400);
    }

    // With a round trip of a minute, a client in the same cluster still gets its answer at
    // once, while the same request across the link gets none within its three seconds.
    await useTopology(withTopology((t) => (t.link.rttMs = 60_000)));
    const within = await roundTrip(podNetns(source, server), serverLb, 15_000);
    expect(within.status).toBe('HTTP/1.1 200 OK');
    const acrossSlow = await roundTrip(across, serverLb, 3_000);
    expect(acrossSlow.timedOut).toBe(true);
  });

  it('applies a CoreDNS change to the pods only after the DNS delay', async () => {
    await useTopology(withTopology((t) => (t.dnsDelayS = 6)));
    const name = `delayed-${Math.random().toString(36).slice(2, 7)}.example.test`;
    const corefile = withLines(corefiles.target!, [
      'hosts {',
      `   198.19.9.9 ${name}`,
      '   fallthrough',
      '}',
    ]);
    const digest = corefileDigest(corefile);
    const seen = `CoreDNS Corefile ${digest} seen`;
    const applied = `CoreDNS Corefile ${digest} applied`;
    const netns = podNetns(target, lookout);
    await writeCorefile(target, corefile);

    await waitFor(
      'the node agent to see the change',
      () => Promise.resolve(agentLog('target').includes(seen)),
      {
        timeoutMs: 15_000,
      },
    );
    expect(hostsFile(netns)).not.toContain(name);
    expect(agentLog('target')).not.toContain(applied);

    await waitFor(
      'the change to reach the pod',
      () => Promise.resolve(hostsFile(netns).includes(`198.19.9.9\t${name}`)),
      {
        timeoutMs: 30_000,
      },
    );
    const log = agentLog('target');
    expect(log.indexOf(applied)).toBeGreaterThan(log.indexOf(seen));
    const resolved = await inPodNetns(netns, ['getent', 'hosts', name]);
    expect(resolved.stdout.split(/\s+/)[0]).toBe('198.19.9.9');
  });

  it('gives a load balancer of a hostname cloud a name that pods of the other cluster resolve, also through a CoreDNS rewrite', async () => {
    await useTopology(withTopology((t) => (t.lbAddressKind.target = 'hostname')));
    await apply(target, [loadBalancer('lookout-lb', targetNs, 'lookout')]);
    const ingress = await waitFor(
      'the load balancer to report its hostname',
      async () =>
        (await target.core.readNamespacedService({ name: 'lookout-lb', namespace: targetNs })).status
          ?.loadBalancer?.ingress,
      { timeoutMs: 30_000 },
    );
    expect(ingress).toHaveLength(1);
    expect(ingress[0]!.ip).toBeUndefined();
    const hostname = ingress[0]!.hostname!;
    expect(hostname).toMatch(
      new RegExp(`^[0-9a-f]{6}-lookout-lb-${targetNs}\\.elb\\.target\\.sandbox\\.test$`),
    );
    const ip = resolveCloudName(hostname);
    expect(ip).toMatch(/^198\.19\.2\./);

    // A source pod resolves the cloud name, but not the member name before the rewrite.
    const netns = podNetns(source, server);
    await waitFor(
      'the cloud name to resolve in a source pod',
      async () => (await inPodNetns(netns, ['getent', 'hosts', hostname])).stdout.split(/\s+/)[0] === ip,
      { timeoutMs: 15_000 },
    );
    const member = `x-${targetNs}.example.test`;
    expect((await inPodNetns(netns, ['getent', 'hosts', member])).ok).toBe(false);

    await writeCorefile(source, withLines(corefiles.source!, [`rewrite name exact ${member} ${hostname}`]));
    await waitFor(
      'the rewrite to reach the source pod',
      () => Promise.resolve(hostsFile(netns).includes(`${ip}\t${member}`)),
      {
        timeoutMs: 15_000,
      },
    );
    const resolved = await inPodNetns(netns, ['getent', 'hosts', member]);
    expect(resolved.stdout.split(/\s+/)[0]).toBe(ip);
    const health = await inPodNetns(netns, [
      etcdctl(),
      `--endpoints=http://${member}:2379`,
      '--dial-timeout=5s',
      '--command-timeout=10s',
      'endpoint',
      'health',
    ]);
    expect(health.ok).toBe(true);
    expect(health.stderr + health.stdout).toContain(`http://${member}:2379 is healthy`);
  });
});
