/**
 * Network namespaces on a cluster's pod bridge that are no pods but resolve names as one: the
 * cluster's worker (`es-w-<cluster>`, worker-netns.ts) and its client namespace (`es-c-<cluster>`,
 * client-netns.ts). Each is registered in `<clusterDir>/registered-netns/<netns>.json`; the
 * cluster's node agent writes the hosts file of every registration as it does a pod's in the
 * registration's Kubernetes namespace.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { LAYOUTS, clusterDir, type ClusterLayout, type ClusterName } from './config.js';
import { createPodNetwork, deletePodNetwork, netnsEtcDir } from './network.js';
import { waitFor } from './processes.js';

export interface NetnsRegistration {
  netns: string;
  ip: string;
  /** Short names resolve as in a pod of this Kubernetes namespace. */
  namespace: string;
  /** The name the namespace's own address carries in its view, as a pod's hostname. */
  hostname: string;
}

/**
 * An address on the cluster's pod subnet the pod runtime never hands out (pods get `.10` to
 * `.249`): `.250` the worker, `.251` the client namespace.
 */
export function reservedPodIp(layout: ClusterLayout, host: 250 | 251): string {
  return layout.podSubnet.replace(/\.0\/24$/, `.${host}`);
}

function registrationsDir(dir: string): string {
  return path.join(dir, 'registered-netns');
}

function registrationFile(dir: string, netns: string): string {
  return path.join(registrationsDir(dir), `${netns}.json`);
}

function register(cluster: ClusterName, reg: NetnsRegistration): void {
  const file = registrationFile(clusterDir(cluster), reg.netns);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(reg) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/** The registrations of the cluster whose directory is `dir`. */
export function readNetnsRegistrations(dir: string): NetnsRegistration[] {
  let names: string[];
  try {
    names = fs.readdirSync(registrationsDir(dir)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      return [JSON.parse(fs.readFileSync(path.join(registrationsDir(dir), n), 'utf8')) as NetnsRegistration];
    } catch {
      return []; // removed meanwhile
    }
  });
}

/** The pod a registration's DNS view is computed for. */
export function registeredPod(reg: NetnsRegistration): V1Pod {
  return {
    metadata: { name: reg.hostname, namespace: reg.namespace, uid: `sandbox-netns-${reg.netns}` },
    spec: { containers: [], hostname: reg.hostname },
    status: { podIP: reg.ip },
  };
}

/** What `readlink /proc/<pid>/ns/net` gives for a process inside `netns`. */
export function netnsInode(netns: string): string {
  return `net:[${fs.statSync(path.join('/run/netns', netns)).ino}]`;
}

/**
 * Creates the namespace on the cluster's bridge (replacing one of the same name), registers it,
 * and returns once the node agent has written its hosts file.
 */
export async function attachRegisteredNetns(
  cluster: ClusterName,
  reg: NetnsRegistration,
  hostVeth: string,
): Promise<void> {
  await createPodNetwork(LAYOUTS[cluster], reg.netns, hostVeth, reg.ip);
  register(cluster, reg);
  const hosts = path.join(netnsEtcDir(reg.netns), 'hosts');
  await waitFor(
    `${cluster}: the node agent writes ${reg.netns}'s hosts file`,
    () => fs.promises.readFile(hosts, 'utf8').then((text) => text.includes(`${reg.ip}\t`)),
    { timeoutMs: 30_000 },
  );
}

/** Unregisters the namespace and deletes it (processes still inside keep running: stop them first). */
export async function detachRegisteredNetns(cluster: ClusterName, netns: string): Promise<void> {
  fs.rmSync(registrationFile(clusterDir(cluster), netns), { force: true });
  await deletePodNetwork(netns);
}
