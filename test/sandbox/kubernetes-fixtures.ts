/**
 * Shared pieces of the Kubernetes sandbox tests: the environment the Kubernetes library takes, a
 * spec for the article's etcd in test namespaces, the deploy/ RBAC applied to test namespaces
 * with a token-bound worker kubeconfig, and snapshots that show nothing changed.
 */
import fs from 'node:fs';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import YAML from 'yaml';
import { kubeClientFactory, type KubeEnv } from '../../activities/kubernetes/clients.js';
import { removeHostsEntries } from '../../activities/kubernetes/corefile-hosts.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { makeSpec, type baseSpecInput } from '../unit/fixtures/migration-spec.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  type ClusterClient,
} from '../helpers/kube.js';

export const SOURCE_PODS = '198.18.1.0/24';
export const TARGET_PODS = '198.18.2.0/24';

/**
 * The environment the Kubernetes library functions take first, as the migration activities build
 * it: clients from `kubeconfig` (default: KUBECONFIG or ~/.kube/config), heartbeats to `heartbeat`.
 */
export function kubeEnv(
  options: {
    kubeconfig?: KubeConfig | string;
    heartbeat?: (details: unknown) => void;
    warn?: (message: string) => void;
  } = {},
): () => KubeEnv {
  const clients = kubeClientFactory(options.kubeconfig);
  const rc = { heartbeat: options.heartbeat ?? (() => undefined) };
  return () => ({ clients, rc, ...(options.warn ? { warn: options.warn } : {}) });
}

export function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 7);
}

export function articleSpec(opts: {
  sourceNs: string;
  targetNs: string;
  targetStatefulSet: string;
  mutate?: (input: ReturnType<typeof baseSpecInput>) => void;
}): MigrationSpec {
  return makeSpec((s) => {
    s.source.namespace = opts.sourceNs;
    s.target.namespace = opts.targetNs;
    s.target.statefulSet = opts.targetStatefulSet;
    s.source.loadBalancer = { sourceRanges: [TARGET_PODS] };
    s.target.loadBalancer = { sourceRanges: [SOURCE_PODS] };
    opts.mutate?.(s);
  });
}

/** The deploy/ manifest for `ns`: namespaced objects moved there, shared names suffixed. */
export function rbacManifest(file: string, ns: string, suffix: string): KubernetesObject[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as (KubernetesObject & Record<string, unknown>) | null)
    .filter((d): d is KubernetesObject & Record<string, unknown> => !!d);
  return docs.map((doc) => {
    const o = structuredClone(doc) as KubernetesObject & {
      roleRef?: { name: string };
      subjects?: { namespace?: string }[];
      rules?: { resources?: string[]; resourceNames?: string[] }[];
    };
    const shared =
      o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding' || o.metadata?.namespace === 'kube-system';
    if (o.metadata?.namespace === 'default') o.metadata.namespace = ns;
    if (shared && o.metadata?.name) o.metadata.name = `${o.metadata.name}-${suffix}`;
    if (o.roleRef && (o.kind === 'ClusterRoleBinding' || o.metadata?.namespace === 'kube-system')) {
      o.roleRef.name = `${o.roleRef.name}-${suffix}`;
    }
    for (const s of o.subjects ?? []) if (s.namespace === 'default') s.namespace = ns;
    for (const r of o.rules ?? []) {
      if (r.resources?.includes('namespaces') && r.resourceNames) {
        r.resourceNames = r.resourceNames.map((n) => (n === 'default' ? ns : n));
      }
    }
    return o;
  });
}

/** Applies deploy/rbac-<side>.yaml for `ns` and returns a token of its ServiceAccount and a cleanup. */
export async function grantWorker(
  c: ClusterClient,
  file: string,
  ns: string,
  suffix: string,
): Promise<{ token: string; cleanup: () => Promise<void> }> {
  const objects = rbacManifest(file, ns, suffix);
  await apply(c, objects);
  const tr = await c.core.createNamespacedServiceAccountToken({
    name: 'etcd-stretch-worker',
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error('no token in the TokenRequest status');
  const shared = objects.filter(
    (o) => o.kind?.startsWith('Cluster') || o.metadata?.namespace === 'kube-system',
  );
  return {
    token,
    cleanup: async () => {
      for (const o of shared) await c.objects.delete(o).catch(() => undefined);
    },
  };
}

/** A kubeconfig with contexts `source` and `target` authenticating with the workers' tokens. */
export function workerKubeConfig(tokens: { source: string; target: string }): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfigPath());
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.getClusters(),
    users: [
      { name: 'source-worker', token: tokens.source },
      { name: 'target-worker', token: tokens.target },
    ],
    contexts: [
      { name: 'source', cluster: 'source', user: 'source-worker' },
      { name: 'target', cluster: 'target', user: 'target-worker' },
    ],
    currentContext: 'source',
  });
  return kc;
}

/**
 * What the migration could change in a namespace, per object: what it declares (labels,
 * annotations, spec or data) and, for pods and claims, their identity. Status written by
 * controllers and agents (which also bumps resourceVersions) is left out.
 */
export async function snapshot(c: ClusterClient, ns: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const add = (
    kind: string,
    items: (KubernetesObject & { spec?: unknown; data?: unknown })[],
    withSpec: boolean,
  ) => {
    for (const i of items) {
      out[`${kind}/${i.metadata?.name}`] = JSON.stringify({
        uid: i.metadata?.uid,
        labels: i.metadata?.labels ?? {},
        annotations: i.metadata?.annotations ?? {},
        ...(withSpec ? { spec: i.spec ?? null, data: i.data ?? null } : {}),
      });
    }
  };
  add('StatefulSet', (await c.apps.listNamespacedStatefulSet({ namespace: ns })).items, true);
  add('Service', (await c.core.listNamespacedService({ namespace: ns })).items, true);
  // a pod's spec gets its node and status from the scheduler and agent: identity and metadata only
  add('Pod', (await c.core.listNamespacedPod({ namespace: ns })).items, false);
  add('PVC', (await c.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items, false);
  add('ConfigMap', (await c.core.listNamespacedConfigMap({ namespace: ns })).items, true);
  return out;
}

export async function corefileOf(c: ClusterClient): Promise<string> {
  return (
    (await c.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })).data?.Corefile ?? ''
  );
}

/**
 * The Corefile without the etcd-stretch blocks of owners other than `keep` (other runs in the
 * shared sandbox add and remove their own blocks concurrently).
 */
export function withoutOtherRuns(corefile: string, keep: string): string {
  const owners = new Set([...corefile.matchAll(/# etcd-stretch begin (\S+)/g)].map((m) => m[1]!));
  let out = corefile;
  for (const owner of owners) if (owner !== keep) out = removeHostsEntries(out, owner, 'all');
  return out;
}

/**
 * A one-member etcd StatefulSet `name` (pod `<name>-0`, member name `memberName`) and its
 * headless Service, on the pod's own emptyDir: the two clusters' etcds must not share a data dir.
 */
export function oneMemberEtcd(ns: string, name: string, memberName: string): KubernetesObject[] {
  const labels = { app: name };
  const objects: object[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: { clusterIP: 'None', selector: labels, ports: [{ name: 'client', port: 2379 }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: ns },
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'etcd',
                image: 'gcr.io/etcd-development/etcd:v3.5.17',
                command: [
                  'etcd',
                  `--name=${memberName}`,
                  '--listen-client-urls=http://0.0.0.0:2379',
                  '--advertise-client-urls=http://127.0.0.1:2379',
                  '--data-dir=/var/lib/etcd',
                ],
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/etcd' }],
              },
            ],
            volumes: [{ name: 'data', emptyDir: {} }],
          },
        },
      },
    },
  ];
  return objects;
}

/**
 * A fresh namespace of the source cluster, an article spec naming it on both sides, and the
 * KubeEnv of a worker holding only deploy/rbac-source.yaml's permissions there. Its cleanups are
 * pushed onto `cleanups` (run them newest first).
 */
export async function sourceNamespaceWithWorker(
  prefix: string,
  cleanups: (() => Promise<void>)[],
): Promise<{ source: ClusterClient; ns: string; spec: MigrationSpec; worker: ReturnType<typeof kubeEnv> }> {
  const source = clusterClient('source');
  const ns = await createNamespace(source, prefix);
  cleanups.push(() => deleteNamespace(source, ns));
  const spec = articleSpec({ sourceNs: ns, targetNs: ns, targetStatefulSet: `new-${randomSuffix()}` });
  const grant = await grantWorker(source, 'deploy/rbac-source.yaml', ns, randomSuffix());
  cleanups.push(grant.cleanup);
  const worker = kubeEnv({ kubeconfig: workerKubeConfig({ source: grant.token, target: grant.token }) });
  return { source, ns, spec, worker };
}

/** The headless Service `etcd` of a source StatefulSet a test builds by hand. */
export async function createHeadlessEtcdService(c: ClusterClient, ns: string): Promise<void> {
  await c.core.createNamespacedService({
    namespace: ns,
    body: {
      metadata: { name: 'etcd' },
      spec: { clusterIP: 'None', selector: { app: 'etcd' }, ports: [{ name: 'client', port: 2379 }] },
    },
  });
}

export async function statefulSetExists(c: ClusterClient, ns: string, name: string): Promise<boolean> {
  return c.apps.readNamespacedStatefulSet({ name, namespace: ns }).then(
    () => true,
    (err: { code?: number }) => {
      if (err.code === 404) return false;
      throw err;
    },
  );
}
