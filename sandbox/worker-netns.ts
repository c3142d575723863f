/**
 * Where a cluster's worker runs: the network namespace `es-w-<cluster>`, attached to that
 * cluster's pod bridge like a pod at `.250`, registered (registered-netns.ts) so the cluster's node
 * agent writes its hosts file as a pod's in the worker's Kubernetes namespace.
 */
import path from 'node:path';
import { NETNS_PREFIX, type ClusterLayout, type ClusterName } from './config.js';
import { reservedPodIp } from './registered-netns.js';

export const WORKER_NAME = 'etcd-stretch-worker';

export function workerNetns(cluster: ClusterName): string {
  return `${NETNS_PREFIX}w-${cluster}`;
}

export function workerHostVeth(cluster: ClusterName): string {
  return `${NETNS_PREFIX}wh-${cluster}`;
}

export function workerIp(layout: ClusterLayout): string {
  return reservedPodIp(layout, 250);
}

/** The worker's files (its kubeconfig) under the cluster directory `dir`. */
export function workerDir(dir: string): string {
  return path.join(dir, 'worker');
}
