/**
 * A cluster worker's credentials, that cluster's only: the ServiceAccount etcd-stretch-worker with
 * the RBAC of deploy/rbac-<cluster>.yaml in the worker's namespace (where the manifest says
 * `default`), a token from the TokenRequest API, and a kubeconfig with one context, named after
 * the cluster as the specs name it, that reaches the API server through the gateway forwarder.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import YAML from 'yaml';
import { LAYOUTS, REPO_ROOT, clusterDir, type ClusterName } from './config.js';
import { apiserverGatewayUrl } from './control-plane.js';
import { renderTokenKubeconfig } from './kubeconfig.js';
import { WORKER_NAME } from './worker-netns.js';

const FIELD_MANAGER = 'etcd-stretch-sandbox';
const TOKEN_SECONDS = 24 * 3600;

type RbacObject = KubernetesObject & {
  roleRef?: { name: string };
  subjects?: { namespace?: string }[];
  rules?: { resources?: string[]; resourceNames?: string[] }[];
};

/**
 * deploy/rbac-<cluster>.yaml for `namespace`. The cluster-wide objects and those in kube-system
 * are shared by every namespace's worker: their names get the namespace as a suffix.
 */
export function workerRbac(cluster: ClusterName, namespace: string): KubernetesObject[] {
  const file = path.join(REPO_ROOT, 'deploy', `rbac-${cluster}.yaml`);
  const suffix = namespace === 'default' ? '' : `-${namespace}`;
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as RbacObject | null)
    .filter((o): o is RbacObject => !!o)
    .map((o) => {
      const shared = o.kind?.startsWith('Cluster') || o.metadata?.namespace === 'kube-system';
      if (o.metadata?.namespace === 'default') o.metadata.namespace = namespace;
      if (shared && o.metadata?.name) o.metadata.name += suffix;
      if (shared && o.roleRef) o.roleRef.name += suffix;
      for (const s of o.subjects ?? []) if (s.namespace === 'default') s.namespace = namespace;
      for (const r of o.rules ?? []) {
        if (r.resources?.includes('namespaces') && r.resourceNames) {
          r.resourceNames = r.resourceNames.map((n) => (n === 'default' ? namespace : n));
        }
      }
      return o;
    });
}

function adminConfig(cluster: ClusterName): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path.join(clusterDir(cluster), 'admin.kubeconfig'));
  return kc;
}

/** Creates (idempotently) the namespace, ServiceAccount and RBAC, and writes the worker's kubeconfig to `file`. */
export async function grantClusterWorker(
  cluster: ClusterName,
  namespace: string,
  file: string,
): Promise<void> {
  const kc = adminConfig(cluster);
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
  for (const o of workerRbac(cluster, namespace)) {
    await objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name: WORKER_NAME,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
  });
  const token = tr.status?.token;
  if (!token)
    throw new Error(`${cluster}: no token in the TokenRequest status for ${namespace}/${WORKER_NAME}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const layout = LAYOUTS[cluster];
  const kubeconfig = renderTokenKubeconfig({
    context: cluster,
    server: apiserverGatewayUrl(layout),
    caCert: path.join(clusterDir(cluster), 'pki', 'ca.crt'),
    token,
    user: WORKER_NAME,
    namespace,
  });
  fs.writeFileSync(file, kubeconfig, { mode: 0o600 });
}
