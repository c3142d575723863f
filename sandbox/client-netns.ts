/**
 * Where a cluster's applications run in the sandbox: the network namespace `es-c-<cluster>` on
 * the cluster's pod bridge at `.251`, registered (registered-netns.ts) so it resolves names as a
 * pod in a given Kubernetes namespace does. A process started there reaches what a pod of that
 * cluster reaches: its pods, and of the other cluster only the load balancers.
 */
import fs from 'node:fs';
import { LAYOUTS, NETNS_PREFIX, type ClusterName } from './config.js';
import { isAlive, run, waitFor } from './processes.js';
import {
  attachRegisteredNetns,
  detachRegisteredNetns,
  netnsInode,
  reservedPodIp,
} from './registered-netns.js';

export const CLIENT_NAME = 'etcd-client';

export interface ClientNetns {
  cluster: ClusterName;
  netns: string;
  ip: string;
  /** The Kubernetes namespace whose pods' DNS view this namespace has. */
  namespace: string;
  /** `ip` arguments that run `cmd args` inside the namespace. */
  execArgs(cmd: string, args: string[]): string[];
  /** Whether process `pid` runs inside the namespace (`ip netns exec` has entered it). */
  holds(pid: number): Promise<boolean>;
  /** Stops the processes inside, then unregisters and deletes the namespace. */
  remove(): Promise<void>;
}

export function clientNetns(cluster: ClusterName): string {
  return `${NETNS_PREFIX}c-${cluster}`;
}

function clientHostVeth(cluster: ClusterName): string {
  return `${NETNS_PREFIX}ch-${cluster}`;
}

/**
 * The client namespace of `cluster` with the DNS view of a pod in `namespace`. One per cluster:
 * attaching again replaces it, stopping what ran in the earlier one.
 */
export async function attachClientNetns(cluster: ClusterName, namespace: string): Promise<ClientNetns> {
  const netns = clientNetns(cluster);
  const ip = reservedPodIp(LAYOUTS[cluster], 251);
  await removeClientNetns(cluster);
  try {
    await attachRegisteredNetns(
      cluster,
      { netns, ip, namespace, hostname: CLIENT_NAME },
      clientHostVeth(cluster),
    );
  } catch (err) {
    await removeClientNetns(cluster);
    throw err;
  }
  const inode = netnsInode(netns);
  return {
    cluster,
    netns,
    ip,
    namespace,
    execArgs: (cmd, args) => ['netns', 'exec', netns, cmd, ...args],
    holds: async (pid) => (await fs.promises.readlink(`/proc/${pid}/ns/net`).catch(() => '')) === inode,
    remove: () => removeClientNetns(cluster),
  };
}

/** Stops whatever runs in `cluster`'s client namespace and removes it (sandboxDown, an earlier caller's leftovers). */
export async function removeClientNetns(cluster: ClusterName): Promise<void> {
  const netns = clientNetns(cluster);
  const pids = (await run('ip', ['netns', 'pids', netns], { allowFail: true }))
    .split('\n')
    .map(Number)
    .filter((pid) => pid > 1);
  for (const pid of pids) signal(pid, 'SIGTERM');
  await waitFor(
    `the processes in ${netns} to exit`,
    () => Promise.resolve(pids.every((pid) => !isAlive(pid))),
    {
      timeoutMs: 5000,
      intervalMs: 50,
    },
  ).catch(() => pids.forEach((pid) => signal(pid, 'SIGKILL')));
  await detachRegisteredNetns(cluster, netns);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}
