/**
 * deploy/worker/ on real API servers: in each sandbox cluster the per-cluster worker as the
 * README says to apply it (deploy/rbac-<side>.yaml, deploy/worker/cluster-<side>.yaml,
 * deploy/worker/worker.yaml) with server-side apply, in a namespace of this test (cluster-scoped
 * names suffixed, as the other deploy/ tests do), then removed.
 *
 * The sandbox runs no Deployment controller (its controller manager runs the StatefulSet,
 * garbage-collector, PV, PVC-protection, service-account, namespace and EndpointSlice
 * controllers only) and its node agent runs etcd images only: no ReplicaSet or Pod is made,
 * so this asserts on the applied objects, not on a running worker.
 *
 * What the Pod would do with them is run here outside a Pod: the worker's mode from the
 * environment the stored Deployment and ConfigMaps give its container, then the worker's own
 * client factory with the in-cluster config a Pod gets (KUBERNETES_SERVICE_HOST/PORT and the
 * ServiceAccount's CA, token and namespace files, pointed at the sandbox's) as that cluster's
 * ServiceAccount: allowed where its RBAC grants, Forbidden elsewhere, and the other cluster
 * refused with WrongCluster before any request.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1EnvVar } from '@kubernetes/client-node';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { WrongCluster } from '../../activities/kubernetes/errors.js';
import { SERVICE_ACCOUNT_DIR } from '../../activities/kubernetes/own-cluster.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import { temporalSettings } from '../../worker/temporal-connection.js';
import { healthAddress } from '../../worker/health-server.js';
import { workerKubeconfig, workerModeFromEnvironment } from '../../worker/worker-mode.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  type ClusterClient,
} from '../helpers/kube.js';
import { grantWorker } from './kubernetes-fixtures.js';

type Side = 'source' | 'target';
const SIDES: Side[] = ['source', 'target'];

/** A deploy/ manifest for namespace `ns` (the manifests say: replace `default`). */
function manifest(file: string, ns: string): KubernetesObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o)
    .map((o) => ({ ...structuredClone(o), metadata: { ...o.metadata, namespace: ns } }));
}

/** What the worker's containers get: the Deployment's and the ConfigMaps', as the README applies them. */
function workerManifests(side: Side, ns: string): KubernetesObject[] {
  return [
    ...manifest(path.join('deploy', 'worker', `cluster-${side}.yaml`), ns),
    ...manifest(path.join('deploy', 'worker', 'worker.yaml'), ns),
  ];
}

/** An error's HTTP status, as @kubernetes/client-node reports it. */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

function refusalOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('no refusal');
}

interface AdminKubeconfig {
  clusters: { name: string; cluster: { server: string; 'certificate-authority': string } }[];
}

describe('deploy/worker: one worker per cluster', () => {
  const clients = {} as Record<Side, ClusterClient>;
  const ns = {} as Record<Side, string>;
  const tokens = {} as Record<Side, string>;
  const cleanups: (() => Promise<void>)[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-worker-'));

  beforeAll(async () => {
    for (const side of SIDES) {
      clients[side] = clusterClient(side);
      ns[side] = await createNamespace(clients[side], `deploy-worker-${side === 'source' ? 'src' : 'dst'}`);
      const suffix = ns[side].split('-').at(-1)!;
      const granted = await grantWorker(
        clients[side],
        path.join('deploy', `rbac-${side}.yaml`),
        ns[side],
        suffix,
      );
      cleanups.push(granted.cleanup);
      tokens[side] = granted.token;
      await apply(clients[side], workerManifests(side, ns[side]));
    }
  });

  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    for (const side of SIDES) if (ns[side]) await deleteNamespace(clients[side], ns[side]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => vi.unstubAllEnvs());

  async function deploymentOf(side: Side): Promise<V1Deployment> {
    return clients[side].apps.readNamespacedDeployment({ name: 'etcd-stretch-worker', namespace: ns[side] });
  }

  async function configMapOf(side: Side, name: string): Promise<V1ConfigMap> {
    return clients[side].core.readNamespacedConfigMap({ name, namespace: ns[side] });
  }

  /** The worker container's environment as the kubelet would make it from the stored objects. */
  async function containerEnv(side: Side): Promise<Record<string, string>> {
    const worker = (await deploymentOf(side)).spec!.template.spec!.containers.find(
      (c) => c.name === 'worker',
    )!;
    const env: Record<string, string> = {};
    for (const from of worker.envFrom ?? []) {
      Object.assign(env, (await configMapOf(side, from.configMapRef!.name!)).data);
    }
    for (const e of worker.env ?? ([] as V1EnvVar[])) {
      const ref = e.valueFrom?.configMapKeyRef;
      if (e.value !== undefined) env[e.name] = e.value;
      else if (ref) {
        const value = (await configMapOf(side, ref.name!)).data?.[ref.key];
        if (value !== undefined) env[e.name] = value;
        else expect(ref.optional, `${e.name} from ${ref.name}/${ref.key}`).toBe(true);
      }
    }
    return env;
  }

  /**
   * What a Pod of `side`'s cluster sees: KUBERNETES_SERVICE_HOST/PORT (set here, restored after
   * the test) and the ServiceAccount's files under the returned prefix.
   */
  function podOf(side: Side): string {
    const admin = YAML.parse(fs.readFileSync(kubeconfigPath(), 'utf8')) as AdminKubeconfig;
    const cluster = admin.clusters.find((c) => c.name === side)!.cluster;
    const server = new URL(cluster.server);
    vi.stubEnv('KUBERNETES_SERVICE_HOST', server.hostname.replace(/^\[(.*)\]$/, '$1'));
    vi.stubEnv('KUBERNETES_SERVICE_PORT', server.port || '443');
    const prefix = path.join(tmp, side);
    const dir = path.join(prefix, SERVICE_ACCOUNT_DIR);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(cluster['certificate-authority'], path.join(dir, 'ca.crt'));
    fs.writeFileSync(path.join(dir, 'token'), tokens[side]);
    fs.writeFileSync(path.join(dir, 'namespace'), ns[side]);
    return prefix;
  }

  it.each(SIDES)(
    '%s: stores the Deployment, bound to its ServiceAccount, with no kubeconfig of any cluster',
    async (side) => {
      const d = await deploymentOf(side);
      const pod = d.spec!.template.spec!;
      expect(pod.serviceAccountName).toBe('etcd-stretch-worker');
      expect(pod.automountServiceAccountToken).toBe(true);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
      expect(pod.initContainers ?? []).toEqual([]);
      // Nothing but scratch space is mounted: no Secret, no kubeconfig.
      expect(pod.volumes?.map((v) => v.name)).toEqual(['tmp']);
      expect(pod.volumes?.[0]?.emptyDir).toBeDefined();
      const worker = pod.containers.find((c) => c.name === 'worker')!;
      expect(worker.command).toEqual(['node', 'dist/worker/main.js']);
      expect(worker.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(worker.env?.find((e) => e.name === 'ETCD_STRETCH_CLUSTER')?.valueFrom?.configMapKeyRef).toEqual({
        name: 'etcd-stretch-worker-cluster',
        key: 'ETCD_STRETCH_CLUSTER',
      });
      expect(worker.livenessProbe?.httpGet).toMatchObject({ path: '/livez', port: 'health' });
      expect(worker.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
      expect(worker.startupProbe?.httpGet).toMatchObject({ path: '/startupz', port: 'health' });
      expect(worker.ports).toEqual([
        { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
        { name: 'health', containerPort: 9465, protocol: 'TCP' },
      ]);
      expect(d.spec!.template.metadata?.annotations?.['prometheus.io/port']).toBe('9464');
      // The API server defaulted it: the object is stored as a real Deployment would be.
      expect(d.spec!.strategy?.type).toBe('RollingUpdate');
      expect(
        d.metadata?.managedFields?.some((f) => f.manager === 'etcd-stretch-tests' && f.operation === 'Apply'),
      ).toBe(true);
      // No Deployment controller in the sandbox: nothing observed it, no ReplicaSet was made.
      expect(d.status?.observedGeneration ?? 0).toBe(0);
      const cluster = await configMapOf(side, 'etcd-stretch-worker-cluster');
      expect(cluster.data).toEqual({ ETCD_STRETCH_CLUSTER: side });
    },
  );

  it.each(SIDES)(
    '%s: its container environment makes a per-cluster worker on the in-cluster config',
    async (side) => {
      const env = await containerEnv(side);
      expect(env.KUBECONFIG).toBeUndefined();
      const mode = workerModeFromEnvironment(temporalSettings(env).taskQueue, env);
      expect(mode).toEqual({
        mode: 'per-cluster',
        cluster: side,
        taskQueue: 'etcd-stretch',
        activityTaskQueue: `etcd-stretch-${side}`,
      });
      expect(workerKubeconfig(mode, env)).toBeUndefined();
      expect(env.ETCD_STRETCH_METRICS_ADDRESS).toBe('0.0.0.0:9464');
      // The kubelet probes the Pod's IP: the probes listen on every interface, on port `health`.
      expect(healthAddress(env)).toEqual({ host: '0.0.0.0', port: 9465 });
    },
  );

  it('has the ServiceAccount and the RoleBindings of deploy/rbac-<side>.yaml in each cluster', async () => {
    type Binding = KubernetesObject & { subjects?: { kind: string; name: string; namespace?: string }[] };
    for (const side of SIDES) {
      const sa = await clients[side].core.readNamespacedServiceAccount({
        name: 'etcd-stretch-worker',
        namespace: ns[side],
      });
      expect(sa.metadata?.name).toBe('etcd-stretch-worker');
      const rb = await clients[side].objects.read<Binding>({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'etcd-stretch-worker', namespace: ns[side] },
      });
      expect(rb.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'etcd-stretch-worker', namespace: ns[side] },
      ]);
    }
    const suffix = ns.target.split('-').at(-1)!;
    const crb = await clients.target.objects.read<Binding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `etcd-stretch-worker-${suffix}` },
    });
    expect(crb.subjects).toEqual([
      expect.objectContaining({ name: 'etcd-stretch-worker', namespace: ns.target }),
    ]);
  });

  it('applies again without a change (server-side apply is idempotent)', async () => {
    for (const side of SIDES) {
      const before = await deploymentOf(side);
      await apply(clients[side], workerManifests(side, ns[side]));
      const after = await deploymentOf(side);
      expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
      expect(after.metadata?.generation).toBe(1);
    }
  });

  it("target's worker: its own cluster as its ServiceAccount, the source cluster refused", async () => {
    const prefix = podOf('target');
    const factory = kubeClientFactory(undefined, { cluster: 'target', inClusterPathPrefix: prefix });
    const t = factory('target');
    // rbac-target.yaml: list pods in its namespace, Secrets only by name, nothing in kube-system.
    expect(await statusOf(t.core.listNamespacedPod({ namespace: ns.target }))).toBe(200);
    expect(await statusOf(t.core.listNamespacedSecret({ namespace: ns.target }))).toBe(403);
    expect(await statusOf(t.core.listNamespacedPod({ namespace: 'kube-system' }))).toBe(403);
    const refused = refusalOf(() => factory('source'));
    expect(refused).toBeInstanceOf(WrongCluster);
    expect((refused as Error).message).toBe(
      `this worker serves cluster "target" only (ETCD_STRETCH_CLUSTER); "source" is reached by the worker on task queue etcd-stretch-source (or the spec's workers.<side>.taskQueue): check workers.* in the spec and that worker`,
    );
  });

  it("source's worker: its own cluster and CoreDNS as its ServiceAccount, the target cluster refused", async () => {
    const prefix = podOf('source');
    const factory = kubeClientFactory(undefined, { cluster: 'source', inClusterPathPrefix: prefix });
    const s = factory('source');
    // The Pod's namespace file became the context's namespace.
    expect(s.kc.getContextObject('source')?.namespace).toBe(ns.source);
    expect(await statusOf(s.core.listNamespacedPod({ namespace: ns.source }))).toBe(200);
    expect(await statusOf(s.core.listNamespacedSecret({ namespace: ns.source }))).toBe(403);
    // rbac-source.yaml's grant in kube-system: its CoreDNS ConfigMap, nothing else there.
    expect(
      await statusOf(s.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })),
    ).toBe(200);
    expect(await statusOf(s.core.listNamespacedConfigMap({ namespace: 'kube-system' }))).toBe(403);
    expect(refusalOf(() => factory('target'))).toBeInstanceOf(WrongCluster);
  });
});
