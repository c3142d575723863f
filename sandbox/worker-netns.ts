/**
 * Where a cluster's worker runs: the network namespace `es-w-<cluster>`, attached to that
 * cluster's pod bridge like a pod, at an address the pod runtime never hands out. Registered in
 * `<clusterDir>/worker/registration.json`, so the cluster's node agent writes its hosts file as it
 * does a pod's: the view of a pod in the worker's Kubernetes namespace.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { NETNS_PREFIX, clusterDir, type ClusterLayout, type ClusterName } from './config.js';

export const WORKER_NAME = 'etcd-stretch-worker';

export interface WorkerRegistration {
  netns: string;
  ip: string;
  /** The worker's Kubernetes namespace: short names resolve as in a pod there. */
  namespace: string;
}

export function workerNetns(cluster: ClusterName): string {
  return `${NETNS_PREFIX}w-${cluster}`;
}

export function workerHostVeth(cluster: ClusterName): string {
  return `${NETNS_PREFIX}wh-${cluster}`;
}

/** `.250`: pods get `.10` to `.249`. */
export function workerIp(layout: ClusterLayout): string {
  return layout.podSubnet.replace(/\.0\/24$/, '.250');
}

export function workerDir(dir: string): string {
  return path.join(dir, 'worker');
}

function registrationFile(dir: string): string {
  return path.join(workerDir(dir), 'registration.json');
}

export function registerWorker(cluster: ClusterName, reg: WorkerRegistration): void {
  const file = registrationFile(clusterDir(cluster));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(reg) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

export function unregisterWorker(cluster: ClusterName): void {
  fs.rmSync(registrationFile(clusterDir(cluster)), { force: true });
}

/** The registered worker of the cluster whose directory is `dir`, if one runs. */
export function readWorkerRegistration(dir: string): WorkerRegistration | undefined {
  try {
    return JSON.parse(fs.readFileSync(registrationFile(dir), 'utf8')) as WorkerRegistration;
  } catch {
    return undefined;
  }
}

/** The pod the worker's DNS view is computed for. */
export function workerPod(reg: WorkerRegistration): V1Pod {
  return {
    metadata: { name: WORKER_NAME, namespace: reg.namespace, uid: `sandbox-worker-${reg.netns}` },
    spec: { containers: [], hostname: WORKER_NAME },
    status: { podIP: reg.ip },
  };
}
