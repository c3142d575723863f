/**
 * The DNS strategies on the real API servers, beyond the default pair the stretch test uses:
 * CoreDNS hosts in the target cluster (with two runs writing the shared Corefile at once),
 * the JSON-patch strategy against the article platform's module configuration (a custom
 * resource) and against a map-shaped ConfigMap; plus the typed failures of the load-balancer
 * steps (deadline, Invalid from the API server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiextensionsV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { applyDnsEntries, removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { awaitLoadBalancers } from '../../activities/kubernetes/member-services.js';
import { ensureHeadlessService } from '../../activities/kubernetes/target-statefulset.js';
import { DeadlineExceeded, Invalid } from '../../activities/kubernetes/errors.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import type { DnsStrategy, MigrationSpec } from '../../core/spec/schema.js';
import {
  clusterClient,
  createNamespace,
  deleteNamespace,
  inPodNetns,
  podNetns,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';
import { articleSpec, corefileOf, kubeEnv, randomSuffix, withoutOtherRuns } from './kubernetes-fixtures.js';

describe('Kubernetes activities: DNS strategies and load-balancer failures', () => {
  let target: ClusterClient;
  let source: ClusterClient;
  let targetNs: string;
  let sourceNs: string;
  let lookout: V1Pod;
  let specA: MigrationSpec;
  let specB: MigrationSpec;
  let corefileBefore: string;
  const r = randomSuffix();
  const group = `dns-${r}.test.etcd-stretch.io`;
  const beats: unknown[] = [];
  const env = kubeEnv({ kubeconfig: kubeconfigPath(), heartbeat: (d) => beats.push(d) });
  const coredns: DnsStrategy = {
    strategy: 'coredns-hosts',
    namespace: 'kube-system',
    configMap: 'coredns',
    key: 'Corefile',
  };
  const names = (prefix: string) => [`${prefix}-0`, `${prefix}-0.${prefix}`];

  async function resolves(name: string): Promise<string | undefined> {
    const res = await inPodNetns(podNetns(target, lookout), ['getent', 'hosts', name]);
    return res.ok ? res.stdout.split(/\s+/)[0] : undefined;
  }

  beforeAll(async () => {
    target = clusterClient('target');
    source = clusterClient('source');
    targetNs = await createNamespace(target, 'k8s-dns');
    sourceNs = await createNamespace(source, 'k8s-dns');
    specA = articleSpec({ sourceNs, targetNs, targetStatefulSet: `dnsa${r}` });
    specB = articleSpec({ sourceNs, targetNs, targetStatefulSet: `dnsb${r}` });
    corefileBefore = await corefileOf(target);
    await target.core.createNamespacedPod({
      namespace: targetNs,
      body: {
        metadata: { name: 'lookout' },
        spec: {
          containers: [
            { name: 'sleep', image: 'gcr.io/etcd-development/etcd:v3.5.17', command: ['sleep', '3600'] },
          ],
        },
      },
    });
    lookout = await waitFor(
      'the lookout pod to run',
      async () => {
        const p = await target.core.readNamespacedPod({ name: 'lookout', namespace: targetNs });
        return p.status?.podIP && p.status.containerStatuses?.[0]?.state?.running ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
  });

  afterAll(async () => {
    for (const spec of [specA, specB]) {
      if (spec) {
        await removeDnsEntries(env(), { spec, side: 'target', strategy: coredns, hostnames: 'all' }).catch(
          () => undefined,
        );
      }
    }
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    kc.setCurrentContext('target');
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .deleteCustomResourceDefinition({ name: `moduleconfigs.${group}` })
      .catch(() => undefined);
    await deleteNamespace(target, targetNs);
    await deleteNamespace(source, sourceNs);
  });

  it('coredns-hosts in the target cluster: two runs write the shared Corefile at once, both entries land, both go', async () => {
    const [a, b] = await Promise.all([
      applyDnsEntries(env(), {
        spec: specA,
        side: 'target',
        strategy: coredns,
        entries: [{ ip: '198.19.1.201', hostnames: names(`dnsa${r}`) }],
      }),
      applyDnsEntries(env(), {
        spec: specB,
        side: 'target',
        strategy: coredns,
        entries: [{ ip: '198.19.1.202', hostnames: names(`dnsb${r}`) }],
      }),
    ]);
    expect([a.changed, b.changed]).toEqual([true, true]);
    for (const [prefix, ip] of [
      [`dnsa${r}`, '198.19.1.201'],
      [`dnsb${r}`, '198.19.1.202'],
    ] as const) {
      for (const name of names(prefix)) {
        expect(await waitFor(`${name} to resolve`, () => resolves(name), { timeoutMs: 20_000 })).toBe(ip);
      }
    }
    const again = await applyDnsEntries(env(), {
      spec: specA,
      side: 'target',
      strategy: coredns,
      entries: [{ ip: '198.19.1.201', hostnames: names(`dnsa${r}`) }],
    });
    expect(again.changed).toBe(false);

    await Promise.all([
      removeDnsEntries(env(), {
        spec: specA,
        side: 'target',
        strategy: coredns,
        hostnames: names(`dnsa${r}`),
      }),
      removeDnsEntries(env(), { spec: specB, side: 'target', strategy: coredns, hostnames: 'all' }),
    ]);
    for (const name of [...names(`dnsa${r}`), ...names(`dnsb${r}`)]) {
      await waitFor(`${name} to stop resolving`, async () => (await resolves(name)) === undefined, {
        timeoutMs: 20_000,
      });
    }
    const after = await corefileOf(target);
    expect(after).not.toContain(`dnsa${r}`);
    expect(after).not.toContain(`dnsb${r}`);
    expect(withoutOtherRuns(after, '-')).toBe(withoutOtherRuns(corefileBefore, '-'));
  });

  it("patch: the article platform's module configuration (a list of { domain, ip })", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    kc.setCurrentContext('target');
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `moduleconfigs.${group}` },
        spec: {
          group,
          scope: 'Cluster',
          names: { kind: 'ModuleConfig', plural: 'moduleconfigs', singular: 'moduleconfig' },
          versions: [
            {
              name: 'v1alpha1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    });
    await waitFor(
      'the CRD to be established',
      async () =>
        (await ext.readCustomResourceDefinition({ name: `moduleconfigs.${group}` })).status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        ),
      { timeoutMs: 30_000 },
    );
    const ref = { apiVersion: `${group}/v1alpha1`, kind: 'ModuleConfig', name: 'kube-dns' };
    const original = [{ domain: 'registry.internal', ip: '10.0.0.1' }];
    await waitFor(
      'the ModuleConfig to be created',
      () =>
        target.objects
          .create({
            ...ref,
            metadata: { name: 'kube-dns' },
            spec: { version: 1, settings: { hosts: original } },
          } as never)
          .then(() => true),
      { timeoutMs: 30_000 },
    );
    const strategy: DnsStrategy = {
      strategy: 'patch',
      object: ref,
      ops: [{ op: 'add', path: '/spec/settings/hosts/-', value: { domain: '{{name}}', ip: '{{ip}}' } }],
    };
    const hosts = async () => {
      const obj = (await target.objects.read({ ...ref, metadata: { name: ref.name } })) as unknown as {
        spec: { settings: { hosts: unknown[] } };
      };
      return obj.spec.settings.hosts;
    };
    const entries = [
      { ip: '198.19.1.10', hostnames: ['etcd-0', 'etcd-0.etcd'] },
      { ip: '198.19.1.11', hostnames: ['etcd-1', 'etcd-1.etcd'] },
    ];
    const add = () => applyDnsEntries(env(), { spec: specA, side: 'target', strategy, entries });
    expect(await add()).toMatchObject({ strategy: 'patch', changed: true, entries: 4 });
    expect(await add()).toMatchObject({ changed: false });
    expect(await hosts()).toEqual([
      ...original,
      { domain: 'etcd-0', ip: '198.19.1.10' },
      { domain: 'etcd-0.etcd', ip: '198.19.1.10' },
      { domain: 'etcd-1', ip: '198.19.1.11' },
      { domain: 'etcd-1.etcd', ip: '198.19.1.11' },
    ]);
    const all = entries.flatMap((e) => e.hostnames);
    expect(
      await removeDnsEntries(env(), { spec: specA, side: 'target', strategy, hostnames: all }),
    ).toMatchObject({
      changed: true,
    });
    expect(
      await removeDnsEntries(env(), { spec: specA, side: 'target', strategy, hostnames: all }),
    ).toMatchObject({
      changed: false,
    });
    expect(await hosts()).toEqual(original);
  });

  it('patch: a map-shaped ConfigMap with cleanupOps', async () => {
    await target.core.createNamespacedConfigMap({
      namespace: targetNs,
      body: { metadata: { name: 'static-hosts' }, data: { keep: '10.0.0.9' } },
    });
    const strategy: DnsStrategy = {
      strategy: 'patch',
      object: { apiVersion: 'v1', kind: 'ConfigMap', namespace: targetNs, name: 'static-hosts' },
      ops: [{ op: 'add', path: '/data/{{name}}', value: '{{ip}}' }],
      cleanupOps: [{ op: 'remove', path: '/data/{{name}}' }],
    };
    const entries = [{ ip: '198.19.1.12', hostnames: ['etcd-2', 'etcd-2.etcd'] }];
    expect((await applyDnsEntries(env(), { spec: specA, side: 'target', strategy, entries })).changed).toBe(
      true,
    );
    expect((await applyDnsEntries(env(), { spec: specA, side: 'target', strategy, entries })).changed).toBe(
      false,
    );
    const data = async () =>
      (await target.core.readNamespacedConfigMap({ name: 'static-hosts', namespace: targetNs })).data;
    expect(await data()).toEqual({ keep: '10.0.0.9', 'etcd-2': '198.19.1.12', 'etcd-2.etcd': '198.19.1.12' });
    const rm = () =>
      removeDnsEntries(env(), {
        spec: specA,
        side: 'target',
        strategy,
        hostnames: ['etcd-2', 'etcd-2.etcd'],
      });
    expect((await rm()).changed).toBe(true);
    expect((await rm()).changed).toBe(false);
    expect(await data()).toEqual({ keep: '10.0.0.9' });
  });

  it('awaitLoadBalancers gives up at its deadline with DeadlineExceeded, heartbeating meanwhile', async () => {
    // A Service of ours that never gets a load balancer (ClusterIP).
    const member = `${specA.target.statefulSet}-0`;
    await target.core.createNamespacedService({
      namespace: targetNs,
      body: {
        metadata: { name: `${member}-lb`, labels: { 'app.kubernetes.io/managed-by': 'etcd-stretch' } },
        spec: { ports: [{ port: 2379 }] },
      },
    });
    beats.length = 0;
    const err = await awaitLoadBalancers(env(), {
      spec: specA,
      side: 'target',
      members: [member],
      timeoutMs: 2500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect((err as DeadlineExceeded).retryable).toBe(false);
    expect((err as DeadlineExceeded).message).toContain(
      `gave up waiting for load-balancer addresses of ${member}`,
    );
    expect(beats.length).toBeGreaterThanOrEqual(1);
    expect(beats[0]).toEqual({ ready: 0, of: 1, pending: [member] });
  });

  it('what the API server rejects is a non-retryable Invalid carrying its message', async () => {
    // Past the spec schema (which would refuse it): a label key the API server rejects.
    const bad = { ...specA, target: { ...specA.target, labels: { 'not a/valid key': 'x' } } };
    const err = await ensureHeadlessService(env(), { spec: bad, side: 'target' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Invalid);
    expect((err as Invalid).retryable).toBe(false);
    expect((err as Invalid).message).toContain(
      `patch services "${specA.target.service}" in namespace "${targetNs}" of cluster target: the API server refused the request: Service "${specA.target.service}" is invalid: [metadata.labels: Invalid value: "not a/valid key"`,
    );
    expect(
      (await target.core.listNamespacedService({ namespace: targetNs })).items.map((x) => x.metadata?.name),
    ).not.toContain(specA.target.service);
  });
});
