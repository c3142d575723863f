/**
 * deploy/worker/ on a real API server: the worker's manifests and the RBAC of the cluster it
 * runs in (deploy/rbac-target.yaml) applied with server-side apply to the sandbox's TARGET
 * cluster, in a namespace of this test (cluster-scoped names suffixed, as the other deploy/
 * tests do), then removed.
 *
 * The sandbox runs no Deployment controller (its controller manager runs the StatefulSet,
 * garbage-collector, PV, PVC-protection, service-account, namespace and EndpointSlice
 * controllers only) and its node agent runs etcd images only: no ReplicaSet or Pod is made,
 * so this asserts on the applied objects, not on a running worker.
 *
 * What a Pod would do with them is run here outside a Pod: the init container's kubeconfig merge
 * (deploy/worker/merge-kubeconfig.mjs) of the ConfigMap's in-cluster context (its server, CA and
 * token-file paths pointed at the sandbox's, since this process is not in a Pod) with a remote
 * kubeconfig for the source cluster, then the worker's own client factory using the merged file
 * as the ServiceAccounts on both API servers: allowed where the RBAC grants, Forbidden elsewhere.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { KubernetesObject, V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  type ClusterClient,
} from '../helpers/kube.js';
import { grantWorker } from './kubernetes-fixtures.js';

const execFileAsync = promisify(execFile);
const WORKER_MANIFEST = path.join('deploy', 'worker', 'worker.yaml');

/** deploy/worker/worker.yaml for namespace `ns` (the manifest says: replace `default`). */
function workerManifest(ns: string): KubernetesObject[] {
  const text = fs.readFileSync(WORKER_MANIFEST, 'utf8');
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o)
    .map((o) => {
      const copy = structuredClone(o) as KubernetesObject & { data?: Record<string, string> };
      copy.metadata = { ...copy.metadata, namespace: ns };
      if (copy.kind === 'ConfigMap' && copy.data?.kubeconfig) {
        copy.data.kubeconfig = copy.data.kubeconfig.replace('namespace: default', `namespace: ${ns}`);
      }
      return copy;
    });
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

describe('deploy/worker on the target API server', () => {
  let target: ClusterClient;
  let source: ClusterClient;
  let ns = '';
  let sourceNs = '';
  let targetToken = '';
  let sourceToken = '';
  const cleanups: (() => Promise<void>)[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-worker-'));
  let applied: KubernetesObject[] = [];

  beforeAll(async () => {
    target = clusterClient('target');
    source = clusterClient('source');
    ns = await createNamespace(target, 'deploy-worker');
    sourceNs = await createNamespace(source, 'deploy-worker-src');
    const suffix = ns.split('-').at(-1)!;
    const t = await grantWorker(target, path.join('deploy', 'rbac-target.yaml'), ns, suffix);
    cleanups.push(t.cleanup);
    targetToken = t.token;
    const s = await grantWorker(source, path.join('deploy', 'rbac-source.yaml'), sourceNs, suffix);
    cleanups.push(s.cleanup);
    sourceToken = s.token;
    applied = workerManifest(ns);
    await apply(target, applied);
  });

  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    if (ns) await deleteNamespace(target, ns);
    if (sourceNs) await deleteNamespace(source, sourceNs);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('accepts the ConfigMap and the Deployment, bound to the RBAC ServiceAccount', async () => {
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'ConfigMap/etcd-stretch-worker',
      'Deployment/etcd-stretch-worker',
    ]);
    const d: V1Deployment = await target.apps.readNamespacedDeployment({
      name: 'etcd-stretch-worker',
      namespace: ns,
    });
    const pod = d.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('etcd-stretch-worker');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    const worker = pod.containers.find((c) => c.name === 'worker')!;
    expect(worker.command).toEqual(['node', '--import', 'tsx', 'worker/main.ts']);
    expect(worker.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(worker.env?.find((e) => e.name === 'KUBECONFIG')?.value).toBe('/etc/etcd-stretch/kubeconfig');
    expect(worker.volumeMounts?.find((m) => m.mountPath === '/etc/etcd-stretch')?.readOnly).toBe(true);
    expect(worker.livenessProbe?.exec?.command).toContain('deploy/worker/healthcheck.mjs');
    expect(worker.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(d.spec!.template.metadata?.annotations?.['prometheus.io/port']).toBe('9464');
    expect(pod.initContainers?.[0]?.command?.slice(0, 2)).toEqual([
      'node',
      'deploy/worker/merge-kubeconfig.mjs',
    ]);
    const remote = pod.volumes?.find((v) => v.name === 'remote-kubeconfig');
    expect(remote?.secret).toMatchObject({
      secretName: 'etcd-stretch-worker-remote-kubeconfig',
      defaultMode: 0o440,
    });
    // The API server defaulted it: the object is stored as a real Deployment would be.
    expect(d.spec!.strategy?.type).toBe('RollingUpdate');
    expect(
      d.metadata?.managedFields?.some((f) => f.manager === 'etcd-stretch-tests' && f.operation === 'Apply'),
    ).toBe(true);
    // No Deployment controller in the sandbox: nothing observed it, no ReplicaSet was made.
    expect(d.status?.observedGeneration ?? 0).toBe(0);
    const cm: V1ConfigMap = await target.core.readNamespacedConfigMap({
      name: 'etcd-stretch-worker',
      namespace: ns,
    });
    expect(cm.data?.ETCD_STRETCH_TASK_QUEUE).toBe('etcd-stretch');
    expect(cm.data?.ETCD_STRETCH_METRICS_ADDRESS).toBe('0.0.0.0:9464');
    expect(YAML.parse(cm.data!.kubeconfig!)).toMatchObject({ contexts: [{ name: 'target' }] });
  });

  it('has the ServiceAccount and the RoleBindings of deploy/rbac-target.yaml', async () => {
    const sa = await target.core.readNamespacedServiceAccount({ name: 'etcd-stretch-worker', namespace: ns });
    expect(sa.metadata?.name).toBe('etcd-stretch-worker');
    type Binding = KubernetesObject & { subjects?: { kind: string; name: string; namespace?: string }[] };
    const rb = await target.objects.read<Binding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'etcd-stretch-worker', namespace: ns },
    });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'etcd-stretch-worker', namespace: ns }]);
    const suffix = ns.split('-').at(-1)!;
    const crb = await target.objects.read<Binding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `etcd-stretch-worker-${suffix}` },
    });
    expect(crb.subjects).toEqual([expect.objectContaining({ name: 'etcd-stretch-worker', namespace: ns })]);
  });

  it('applies again without a change (server-side apply is idempotent)', async () => {
    const before = await target.apps.readNamespacedDeployment({ name: 'etcd-stretch-worker', namespace: ns });
    await apply(target, workerManifest(ns));
    const after = await target.apps.readNamespacedDeployment({ name: 'etcd-stretch-worker', namespace: ns });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.metadata?.generation).toBe(1);
  });

  it("merges the in-cluster and the remote kubeconfig; the worker's client uses both as the ServiceAccounts", async () => {
    const admin = YAML.parse(fs.readFileSync(kubeconfigPath(), 'utf8')) as {
      clusters: { name: string; cluster: { server: string; 'certificate-authority': string } }[];
    };
    const cluster = (name: string) => admin.clusters.find((c) => c.name === name)!.cluster;
    // The ConfigMap's kubeconfig as the init container reads it, with the Pod paths pointed at
    // the sandbox: API server, its CA, and the ServiceAccount token in a file.
    const tokenFile = path.join(tmp, 'token');
    fs.writeFileSync(tokenFile, targetToken);
    const cm = await target.core.readNamespacedConfigMap({ name: 'etcd-stretch-worker', namespace: ns });
    const local = cm
      .data!.kubeconfig!.replace('https://kubernetes.default.svc', cluster('target').server)
      .replace(
        '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        cluster('target')['certificate-authority'],
      )
      .replace('/var/run/secrets/kubernetes.io/serviceaccount/token', tokenFile);
    fs.writeFileSync(path.join(tmp, 'local'), local);
    // What the operator puts in the Secret: the source cluster, the source ServiceAccount's token.
    const remote = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'source-cluster', cluster: cluster('source') }],
      users: [{ name: 'source-worker', user: { token: sourceToken } }],
      contexts: [{ name: 'source', context: { cluster: 'source-cluster', user: 'source-worker' } }],
      'current-context': 'source',
    };
    fs.writeFileSync(path.join(tmp, 'remote'), YAML.stringify(remote));
    const merged = path.join(tmp, 'merged');
    const { stdout } = await execFileAsync(
      process.execPath,
      ['deploy/worker/merge-kubeconfig.mjs', merged, path.join(tmp, 'local'), path.join(tmp, 'remote')],
      { env: { ...process.env, ETCD_STRETCH_REQUIRED_CONTEXTS: 'source,target' } },
    );
    expect(stdout).toContain('contexts target, source');
    expect(fs.statSync(merged).mode & 0o777).toBe(0o600);

    const clients = kubeClientFactory(merged);
    // target: the Pod's own cluster, through the token file (rbac-target.yaml: list pods, get secrets).
    const t = clients('target');
    expect(await statusOf(t.core.listNamespacedPod({ namespace: ns }))).toBe(200);
    expect(await statusOf(t.core.listNamespacedSecret({ namespace: ns }))).toBe(403);
    expect(await statusOf(t.core.listNamespacedPod({ namespace: 'kube-system' }))).toBe(403);
    // source: the other cluster, through the Secret's kubeconfig (rbac-source.yaml).
    const s = clients('source');
    expect(await statusOf(s.core.listNamespacedPod({ namespace: sourceNs }))).toBe(200);
    expect(await statusOf(s.core.listNamespacedSecret({ namespace: sourceNs }))).toBe(403);
    // ... and the source side's own grant in kube-system: its CoreDNS ConfigMap, nothing else there.
    expect(
      await statusOf(s.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })),
    ).toBe(200);
    expect(await statusOf(s.core.listNamespacedConfigMap({ namespace: 'kube-system' }))).toBe(403);
  });

  it('refuses to merge when a context the specs need is missing', async () => {
    const failed = await execFileAsync(
      process.execPath,
      ['deploy/worker/merge-kubeconfig.mjs', path.join(tmp, 'x'), path.join(tmp, 'local')],
      { env: { ...process.env, ETCD_STRETCH_REQUIRED_CONTEXTS: 'source,target' } },
    ).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('missing context(s) source (the files define: target)');
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});
