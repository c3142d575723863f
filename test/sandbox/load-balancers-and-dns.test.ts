import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { LB_FAULT_ANNOTATION } from '../../sandbox/node-agent/load-balancer.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  etcdctl,
  inPodNetns,
  loadManifests,
  podNetns,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';

const SOURCE_PODS = '198.18.1.0/24';
const TARGET_PODS = '198.18.2.0/24';

function memberService(pod: string, ranges: string[]): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${pod}-lb` },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      loadBalancerSourceRanges: ranges,
      selector: { 'statefulset.kubernetes.io/pod-name': pod },
      ports: [
        { name: 'etcd-server', port: 2380 },
        { name: 'etcd-client', port: 2379 },
      ],
    },
  };
}

/** A one-member etcd in the target cluster: a pod to look from. */
function targetProbeStatefulSet(): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'lookout' },
    spec: {
      serviceName: 'lookout',
      replicas: 1,
      selector: { matchLabels: { app: 'lookout' } },
      template: {
        metadata: { labels: { app: 'lookout' } },
        spec: {
          containers: [
            {
              name: 'etcd',
              image: 'gcr.io/etcd-development/etcd:v3.5.17',
              command: [
                'etcd',
                '--name=lookout',
                '--listen-client-urls=http://0.0.0.0:2379',
                '--advertise-client-urls=http://127.0.0.1:2379',
                '--data-dir=/tmp/lookout',
              ],
            },
          ],
        },
      },
    },
  };
}

async function addCorednsHosts(c: ClusterClient, lines: string[]): Promise<void> {
  const cm = await c.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' });
  const corefile = cm.data!.Corefile!.replace(
    /\n {4}ready\n/,
    `\n    ready\n    hosts {\n${lines.map((l) => `       ${l}\n`).join('')}       fallthrough\n    }\n`,
  );
  await c.core.patchNamespacedConfigMap(
    { name: 'coredns', namespace: 'kube-system', body: { data: { Corefile: corefile } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

describe('load balancers and cluster DNS across the two clusters', () => {
  let source: ClusterClient;
  let target: ClusterClient;
  let sourceNs: string;
  let targetNs: string;
  let sourcePods: V1Pod[];
  let lookout: V1Pod;
  let corefileBefore: string;

  beforeAll(async () => {
    source = clusterClient('source');
    target = clusterClient('target');
    sourceNs = await createNamespace(source, 'lbdns');
    targetNs = await createNamespace(target, 'lbdns');
    corefileBefore = (
      await target.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })
    ).data!.Corefile!;
    await apply(source, loadManifests('test/fixtures/article-etcd.yaml', sourceNs));
    await apply(target, [
      { ...targetProbeStatefulSet(), metadata: { name: 'lookout', namespace: targetNs } },
    ]);
    sourcePods = await readyPods(source, sourceNs, 'app=etcd', 3);
    lookout = (await readyPods(target, targetNs, 'app=lookout', 1))[0]!;
  });

  afterAll(async () => {
    await target.core.patchNamespacedConfigMap(
      { name: 'coredns', namespace: 'kube-system', body: { data: { Corefile: corefileBefore } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await deleteNamespace(source, sourceNs);
    await deleteNamespace(target, targetNs);
  });

  it('gives every per-member LoadBalancer Service its own IP from the source pool', async () => {
    for (const pod of ['etcd-0', 'etcd-1', 'etcd-2']) {
      await apply(source, [
        { ...memberService(pod, [TARGET_PODS]), metadata: { name: `${pod}-lb`, namespace: sourceNs } },
      ]);
    }
    const ips = await waitFor(
      'three load-balancer IPs',
      async () => {
        const svcs = (await source.core.listNamespacedService({ namespace: sourceNs })).items.filter(
          (s) => s.spec?.type === 'LoadBalancer',
        );
        const got = svcs
          .map((s) => s.status?.loadBalancer?.ingress?.[0]?.ip)
          .filter((ip): ip is string => !!ip);
        return got.length === 3 ? got : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(new Set(ips).size).toBe(3);
    for (const ip of ips) expect(ip).toMatch(/^198\.19\.1\./);
  });

  it("resolves a source member's name in a target pod only after a CoreDNS hosts entry, without restarting it, and reaches it through the load balancer", async () => {
    const lb = (await source.core.readNamespacedService({ name: 'etcd-0-lb', namespace: sourceNs })).status!
      .loadBalancer!.ingress![0]!.ip!;
    const ns = podNetns(target, lookout);

    const before = await inPodNetns(ns, ['getent', 'hosts', 'etcd-0.etcd']);
    expect(before.ok).toBe(false);

    // The load balancer already lets the target pod in by IP.
    const key = `lb-check-${Date.now()}`;
    await inPodNetns(podNetns(source, sourcePods[0]!), [
      etcdctl(),
      '--endpoints=http://127.0.0.1:2379',
      'put',
      key,
      'through-the-lb',
    ]);
    const byIp = await inPodNetns(ns, [
      etcdctl(),
      `--endpoints=http://${lb}:2379`,
      '--dial-timeout=3s',
      'get',
      key,
      '--print-value-only',
    ]);
    expect(byIp.stdout.trim()).toBe('through-the-lb');

    await addCorednsHosts(target, [`${lb} etcd-0.etcd etcd-0`]);
    const resolved = await waitFor(
      'etcd-0.etcd to resolve in the target pod',
      async () => {
        const r = await inPodNetns(ns, ['getent', 'hosts', 'etcd-0.etcd']);
        return r.ok ? r.stdout : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(resolved.split(/\s+/)[0]).toBe(lb);
    const byName = await inPodNetns(ns, [
      etcdctl(),
      '--endpoints=http://etcd-0.etcd:2379',
      '--dial-timeout=3s',
      'get',
      key,
      '--print-value-only',
    ]);
    expect(byName.stdout.trim()).toBe('through-the-lb');

    const now = await target.core.readNamespacedPod({ name: 'lookout-0', namespace: targetNs });
    expect(now.metadata?.uid).toBe(lookout.metadata?.uid);
    expect(now.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('refuses connections from outside loadBalancerSourceRanges', async () => {
    const lb = (await source.core.readNamespacedService({ name: 'etcd-1-lb', namespace: sourceNs })).status!
      .loadBalancer!.ingress![0]!.ip!;
    const fromTarget = await inPodNetns(podNetns(target, lookout), [
      etcdctl(),
      `--endpoints=http://${lb}:2379`,
      '--dial-timeout=3s',
      '--command-timeout=5s',
      'endpoint',
      'health',
    ]);
    expect(fromTarget.ok).toBe(true);
    // A source pod is not in the allowed range (only the target's pods are).
    const fromSource = await inPodNetns(podNetns(source, sourcePods[2]!), [
      etcdctl(),
      `--endpoints=http://${lb}:2379`,
      '--dial-timeout=3s',
      '--command-timeout=5s',
      'endpoint',
      'health',
    ]);
    expect(fromSource.ok).toBe(false);
    expect(fromSource.stderr).toMatch(/connection reset|unhealthy|deadline exceeded|connection refused/i);

    // Opening the range to the source pods lets the same pod in.
    await apply(source, [
      {
        ...memberService('etcd-1', [TARGET_PODS, SOURCE_PODS]),
        metadata: { name: 'etcd-1-lb', namespace: sourceNs },
      },
    ]);
    await waitFor(
      'the source pod to be let in',
      async () =>
        (
          await inPodNetns(podNetns(source, sourcePods[2]!), [
            etcdctl(),
            `--endpoints=http://${lb}:2379`,
            '--dial-timeout=2s',
            '--command-timeout=3s',
            'endpoint',
            'health',
          ])
        ).ok,
      { timeoutMs: 20_000 },
    );
  });

  it('breaks one load balancer on purpose through the fault hook, and heals it', async () => {
    const lb = (await source.core.readNamespacedService({ name: 'etcd-0-lb', namespace: sourceNs })).status!
      .loadBalancer!.ingress![0]!.ip!;
    const health = () =>
      inPodNetns(podNetns(target, lookout), [
        etcdctl(),
        `--endpoints=http://${lb}:2379`,
        '--dial-timeout=2s',
        '--command-timeout=3s',
        'endpoint',
        'health',
      ]);
    expect((await health()).ok).toBe(true);
    const setFault = (value: string | null) =>
      source.core.patchNamespacedService(
        {
          name: 'etcd-0-lb',
          namespace: sourceNs,
          body: { metadata: { annotations: { [LB_FAULT_ANNOTATION]: value } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await setFault('drop');
    await waitFor('the load balancer to drop traffic', async () => !(await health()).ok, {
      timeoutMs: 20_000,
    });
    await setFault(null);
    await waitFor('the load balancer to carry traffic again', async () => (await health()).ok, {
      timeoutMs: 20_000,
    });
  });

  it('reports a pod whose etcd image has no local build with a clear event', async () => {
    await target.core.createNamespacedPod({
      namespace: targetNs,
      body: {
        metadata: { name: 'ancient' },
        spec: { containers: [{ name: 'etcd', image: 'quay.io/coreos/etcd:v3.2.32' }] },
      },
    });
    const event = await waitFor(
      'a Failed event for the pod',
      async () =>
        (
          await target.core.listNamespacedEvent({
            namespace: targetNs,
            fieldSelector: 'involvedObject.name=ancient',
          })
        ).items.find((e) => e.reason === 'Failed'),
      { timeoutMs: 20_000 },
    );
    expect(event.message).toContain('no local etcd 3.2 build');
    const pod = await target.core.readNamespacedPod({ name: 'ancient', namespace: targetNs });
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ErrImagePull');
  });
});
