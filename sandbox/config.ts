import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export type ClusterName = 'source' | 'target';
export const CLUSTERS: readonly ClusterName[] = ['source', 'target'];

/** Everything fixed about one sandbox cluster: ports, address ranges, device names. */
export interface ClusterLayout {
  name: ClusterName;
  /** Backing etcd of the Kubernetes control plane (not the application etcd). */
  etcdClientPort: number;
  etcdPeerPort: number;
  apiserverPort: number;
  /** Pod network: the host side of the bridge is `.1`, pods get `.10` and up. */
  podSubnet: string;
  bridge: string;
  serviceSubnet: string;
  /** Load-balancer pool of this cluster's "cloud". */
  lbSubnet: string;
  nodes: string[];
}

// All addresses come from 198.18.0.0/15, reserved for network testing (RFC 2544).
export const LAYOUTS: Record<ClusterName, ClusterLayout> = {
  source: {
    name: 'source',
    etcdClientPort: 16379,
    etcdPeerPort: 16380,
    apiserverPort: 16443,
    podSubnet: '198.18.1.0/24',
    bridge: 'esb-source',
    serviceSubnet: '198.18.16.0/24',
    lbSubnet: '198.19.1.0/24',
    nodes: ['node-a', 'node-b', 'node-c', 'node-d'],
  },
  target: {
    name: 'target',
    etcdClientPort: 26379,
    etcdPeerPort: 26380,
    apiserverPort: 26443,
    podSubnet: '198.18.2.0/24',
    bridge: 'esb-target',
    serviceSubnet: '198.18.32.0/24',
    lbSubnet: '198.19.2.0/24',
    nodes: ['node-a', 'node-b', 'node-c', 'node-d'],
  },
};

/** One portless bridge in the host namespace carries every load-balancer IP (no dummy driver in every kernel). */
export const LB_LINK = 'es-lb';
/** Prefix of every network namespace, veth and bridge the sandbox creates. */
export const NETNS_PREFIX = 'es-';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');

export function sandboxDir(): string {
  return process.env.ETCD_STRETCH_SANDBOX_DIR ?? path.join(os.tmpdir(), 'etcd-stretch-sandbox');
}

export function kubeconfigPath(): string {
  return path.join(sandboxDir(), 'kubeconfig');
}

export function clusterDir(cluster: ClusterName): string {
  return path.join(sandboxDir(), cluster);
}

export function toolPath(name: string): string {
  return path.join(TOOLS_BIN, name);
}

/** The etcd binary the Kubernetes control planes store their state in. */
export const CONTROL_PLANE_ETCD = 'etcd-3.6';
