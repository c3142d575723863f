/**
 * The kubeconfig of a per-cluster worker (ETCD_STRETCH_CLUSTER): one context, its own cluster's,
 * named as the specs name that cluster. It comes from a kubeconfig file that has such a context,
 * or from the Pod's ServiceAccount (in-cluster), renamed. Nothing of another cluster is kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeconfigFiles } from './kubeconfig-files.js';

/** Where a Pod finds its ServiceAccount's CA, token and namespace (`KubeConfig.loadFromCluster`). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface OwnClusterOptions {
  /**
   * A kubeconfig (loaded, or a KUBECONFIG-style list of files) with a context named `cluster`;
   * absent: the Pod's ServiceAccount.
   */
  kubeconfig?: KubeConfig | string;
  /** Prefix of the ServiceAccount files, as `loadFromCluster(pathPrefix)` takes it (tests outside a Pod). */
  inClusterPathPrefix?: string;
}

export function ownClusterKubeConfig(cluster: string, options: OwnClusterOptions = {}): KubeConfig {
  const { kubeconfig } = options;
  if (kubeconfig === undefined) return inCluster(cluster, options.inClusterPathPrefix ?? '');
  if (kubeconfig instanceof KubeConfig) return onlyContext(kubeconfig, cluster, 'the kubeconfig');
  return onlyContext(loadKubeconfigFiles(kubeconfig), cluster, `KUBECONFIG ${kubeconfig}`);
}

/** `base` reduced to the context `cluster`, its cluster and its user. */
function onlyContext(base: KubeConfig, cluster: string, where: string): KubeConfig {
  const context = base.getContextObject(cluster);
  if (!context) {
    const known = base.getContexts().map((c) => c.name);
    throw new Error(
      `${where} has no context "${cluster}" (it has: ${known.join(', ') || 'none'}): ETCD_STRETCH_CLUSTER names this worker's cluster as the specs' source.context or target.context do`,
    );
  }
  const server = base.getCluster(context.cluster);
  if (!server)
    throw new Error(`${where}: context "${cluster}" names cluster "${context.cluster}", which it lacks`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [server],
    users: base.getUsers().filter((u) => u.name === context.user),
    contexts: [context],
    currentContext: cluster,
  });
  return kc;
}

/** The Pod's ServiceAccount, as `KubeConfig.loadFromCluster` reads it, in a context named `cluster`. */
function inCluster(cluster: string, pathPrefix: string): KubeConfig {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (!host || !port) {
    throw new Error(
      `ETCD_STRETCH_CLUSTER=${cluster} without KUBECONFIG uses the Pod's ServiceAccount, but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a Pod): set KUBECONFIG to a kubeconfig with a context "${cluster}"`,
    );
  }
  for (const file of ['ca.crt', 'token']) {
    const full = `${pathPrefix}${path.posix.join(SERVICE_ACCOUNT_DIR, file)}`;
    if (!fs.existsSync(full)) {
      throw new Error(
        `ETCD_STRETCH_CLUSTER=${cluster} without KUBECONFIG uses the Pod's ServiceAccount, but ${full} does not exist: mount the ServiceAccount token (automountServiceAccountToken) or set KUBECONFIG`,
      );
    }
  }
  const loaded = new KubeConfig();
  loaded.loadFromCluster(pathPrefix);
  const [context] = loaded.getContexts();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: loaded.getClusters(),
    users: loaded.getUsers(),
    contexts: [{ ...context!, name: cluster }],
    currentContext: cluster,
  });
  return kc;
}
