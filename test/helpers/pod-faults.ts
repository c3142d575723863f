/**
 * Faults on the etcd pods of the sandbox, where containers are local processes: kill one once,
 * keep killing it (a crash loop), find the leader.
 */
import { Etcd3 } from 'etcd3';
import fs from 'node:fs';
import path from 'node:path';
import { clusterDir, type ClusterName } from '../../sandbox/config.js';
import { clusterClient, waitFor } from './kube.js';

/** The process group of a pod's `etcd` container, or undefined while it is not running. */
export async function etcdPid(cluster: ClusterName, ns: string, pod: string): Promise<number | undefined> {
  const p = await clusterClient(cluster)
    .core.readNamespacedPod({ name: pod, namespace: ns })
    .catch(() => undefined);
  const uid = p?.metadata?.uid;
  const running = p?.status?.containerStatuses?.some((s) => s.name === 'etcd' && s.state?.running);
  if (!uid || !running) return undefined;
  const file = path.join(clusterDir(cluster), 'pods', `${ns}_${pod}_${uid.slice(0, 8)}`, 'etcd.pid');
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the pod's etcd process group; returns the pid killed, or undefined if none ran. */
export async function killEtcd(cluster: ClusterName, ns: string, pod: string): Promise<number | undefined> {
  const pid = await etcdPid(cluster, ns, pod);
  if (!pid || !alive(pid)) return undefined;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    process.kill(pid, 'SIGKILL');
  }
  return pid;
}

/**
 * Kills the pod's etcd every time it starts again, until stopped: the pod crash-loops (the
 * sandbox restarts containers with a back-off, as the kubelet does).
 */
export class CrashLoop {
  readonly kills: { at: string; pid: number }[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly cluster: ClusterName,
    private readonly ns: string,
    private readonly pod: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const pid = await killEtcd(this.cluster, this.ns, this.pod).catch(() => undefined);
      if (pid && !this.kills.some((k) => k.pid === pid))
        this.kills.push({ at: new Date().toISOString(), pid });
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** The name of the member that leads, asked through any of the given pods (name -> client URL). */
export async function leaderName(endpoints: Record<string, string>): Promise<string | undefined> {
  for (const url of Object.values(endpoints)) {
    const c = new Etcd3({ hosts: url, dialTimeout: 1000 });
    try {
      const s = await c.maintenance.status({ deadline: Date.now() + 1500 });
      if (s.leader === '0') continue;
      const list = await c.cluster.memberList({ linearizable: false });
      return list.members.find((m) => m.ID === s.leader)?.name;
    } catch {
      // next
    } finally {
      c.close();
    }
  }
  return undefined;
}

/**
 * Moves the leadership to member `to`, as an operator would with `etcdctl move-leader`: the
 * request goes to the current leader (etcd accepts it only there), found through the given pods
 * (name -> client URL; member names are pod names); then waits until `to` says it leads.
 * Returns the member that led before.
 */
export async function moveLeaderTo(endpoints: Record<string, string>, to: string): Promise<string> {
  const status = async (url: string) => {
    const c = new Etcd3({ hosts: url, dialTimeout: 1000 });
    try {
      const s = await c.maintenance.status({ deadline: Date.now() + 1500 });
      const { members } = await c.cluster.memberList({ linearizable: false });
      return { self: s.header.member_id, leader: s.leader, members };
    } catch {
      return undefined;
    } finally {
      c.close();
    }
  };
  if (!endpoints[to]) throw new Error(`move leader to ${to}: no pod ${to} with an IP`);
  const views = await Promise.all(
    Object.entries(endpoints).map(async ([name, url]) => ({ name, url, s: await status(url) })),
  );
  const leading = views.find((v) => v.s && v.s.leader !== '0' && v.s.leader === v.s.self);
  if (!leading) throw new Error(`move leader to ${to}: no member says it leads`);
  const target = leading.s!.members.find((m) => m.name === to);
  if (!target || target.isLearner) throw new Error(`move leader to ${to}: not a voter`);
  if (target.ID === leading.s!.self) return leading.name;
  const c = new Etcd3({ hosts: leading.url, dialTimeout: 1000 });
  try {
    await c.maintenance.moveLeader({ targetID: target.ID }, { deadline: Date.now() + 10_000 });
  } finally {
    c.close();
  }
  await waitFor(
    `${to} to lead`,
    async () => {
      const s = await status(endpoints[to]!);
      return s?.leader === target.ID && s.self === target.ID;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  return leading.name;
}

/** Pod name -> `http://<pod IP>:2379` for the etcd pods of a namespace in a cluster. */
export async function podEndpoints(cluster: ClusterName, ns: string): Promise<Record<string, string>> {
  const pods = await clusterClient(cluster).core.listNamespacedPod({ namespace: ns });
  return Object.fromEntries(
    pods.items
      .filter((p) => p.status?.podIP)
      .map((p) => [p.metadata!.name!, `http://${p.status!.podIP}:2379`]),
  );
}
