import fs from 'node:fs';
import path from 'node:path';
import { LAYOUTS, LB_LINK, NETNS_PREFIX, type ClusterLayout } from './config.js';
import { run } from './processes.js';

const NETNS_ETC = '/etc/netns';

export function gatewayOf(layout: ClusterLayout): string {
  return layout.podSubnet.replace(/\.0\/24$/, '.1');
}

export function bridgeMac(layout: ClusterLayout): string {
  const third = Number(layout.podSubnet.split('.')[2]);
  return `02:00:c6:12:${third.toString(16).padStart(2, '0')}:01`;
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['-o', 'link', 'show', 'dev', name], { allowFail: true })).trim() !== '';
}

/** The per-cluster pod bridge; the host side holds the gateway address. */
export async function ensureHostNetwork(layout: ClusterLayout): Promise<void> {
  if (!(await linkExists(layout.bridge))) {
    await run('ip', ['link', 'add', layout.bridge, 'type', 'bridge']);
    // A bridge without a set address takes the lowest MAC of its ports, so adding or removing a
    // pod's veth could change the gateway's MAC under the pods' ARP caches and stall every
    // connection through it for half a minute. A fixed, locally administered MAC avoids that.
    await run('ip', ['link', 'set', layout.bridge, 'address', bridgeMac(layout)]);
    await run('ip', ['addr', 'add', `${gatewayOf(layout)}/24`, 'dev', layout.bridge]);
  }
  await run('ip', ['link', 'set', layout.bridge, 'up']);
}

export async function ensureLbLink(): Promise<void> {
  if (!(await linkExists(LB_LINK))) await run('ip', ['link', 'add', LB_LINK, 'type', 'bridge']);
  await run('ip', ['link', 'set', LB_LINK, 'up']);
}

export async function addLbAddress(ip: string): Promise<void> {
  const have = await run('ip', ['-o', 'addr', 'show', 'dev', LB_LINK]);
  if (!have.includes(` ${ip}/32 `)) await run('ip', ['addr', 'add', `${ip}/32`, 'dev', LB_LINK]);
}

export async function removeLbAddress(ip: string): Promise<void> {
  await run('ip', ['addr', 'del', `${ip}/32`, 'dev', LB_LINK], { allowFail: true });
}

export interface PodNetwork {
  netns: string;
  ip: string;
}

export function netnsEtcDir(netns: string): string {
  return path.join(NETNS_ETC, netns);
}

/** A network namespace with eth0 on the cluster bridge, its own hosts file and a resolver that answers nothing. */
export async function createPodNetwork(
  layout: ClusterLayout,
  netns: string,
  hostVeth: string,
  ip: string,
): Promise<PodNetwork> {
  await deletePodNetwork(netns);
  const etc = netnsEtcDir(netns);
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'hosts'), `127.0.0.1 localhost\n`);
  // Names outside the cluster's view must fail fast, never leave the machine.
  fs.writeFileSync(path.join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['link', 'del', hostVeth], { allowFail: true });
  await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await run('ip', ['link', 'set', hostVeth, 'master', layout.bridge, 'up']);
  await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  // Like CNI plugins: announce the (possibly reused) IP with a gratuitous ARP when eth0 comes up,
  // and drop the host's entry for it, so no neighbour cache keeps the MAC of an earlier pod.
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.conf.eth0.arp_notify=1']);
  await run('ip', ['neigh', 'flush', 'to', ip, 'dev', layout.bridge], { allowFail: true });
  await run('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', netns, 'route', 'add', 'default', 'via', gatewayOf(layout)]);
  return { netns, ip };
}

export async function deletePodNetwork(netns: string): Promise<void> {
  await run('ip', ['netns', 'del', netns], { allowFail: true });
  fs.rmSync(netnsEtcDir(netns), { recursive: true, force: true });
}

/** Writes a pod's hosts file in place: the running processes see it through a bind mount of this inode. */
export function writePodHosts(netns: string, content: string): boolean {
  const file = path.join(netnsEtcDir(netns), 'hosts');
  let current = '';
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  if (current === content) return false;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, content, 0);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

export async function listSandboxNetns(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list'], { allowFail: true });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

export async function listSandboxLinks(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show'], { allowFail: true });
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX) || Object.values(LAYOUTS).some((c) => c.bridge === n));
}

/** Removes every namespace, link and /etc/netns entry the sandbox may have left behind. */
export async function removeAllSandboxNetworking(): Promise<void> {
  for (const ns of await listSandboxNetns()) await deletePodNetwork(ns);
  for (const link of await listSandboxLinks()) await run('ip', ['link', 'del', link], { allowFail: true });
  if (fs.existsSync(NETNS_ETC)) {
    for (const entry of fs.readdirSync(NETNS_ETC)) {
      if (entry.startsWith(NETNS_PREFIX))
        fs.rmSync(path.join(NETNS_ETC, entry), { recursive: true, force: true });
    }
  }
}
