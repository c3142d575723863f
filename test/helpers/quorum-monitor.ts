/**
 * A background watcher for fault runs: every few hundred milliseconds it asks each etcd pod of
 * both clusters for its status and the member list, and records whether a majority of the
 * voters could be reached (quorum), every membership change it saw (to find duplicates) and
 * every change of leader.
 */
import { Etcd3 } from 'etcd3';
import { passThrough } from '../../activities/etcd/connection.js';
import { clusterClient, isReady, type ClusterClient } from './kube.js';

export interface MembershipEvent {
  at: string;
  kind: 'added' | 'promoted' | 'removed';
  id: string;
  name: string;
}

/** A member seen leading from `at` on (it said so itself, at the highest term that answered). */
export interface LeaderChange {
  at: string;
  id: string;
  name: string;
}

export interface QuorumReport {
  samples: number;
  /** Samples where fewer than a majority of the voters answered. */
  samplesWithoutQuorum: number;
  /**
   * A majority of the voters stayed unreachable for at least LOSS_CONFIRM_MS (a single slow
   * sample on a busy machine is not a lost quorum; a real loss lasts at least an election).
   */
  quorumLost: boolean;
  longestQuorumLossMs: number;
  /** Samples where no reachable member knew a leader. */
  longestLeaderlessMs: number;
  events: MembershipEvent[];
  leaderChanges: LeaderChange[];
  /** Member names added (or removed) more often than `expectedAdds` allows. */
  duplicateChanges: string[];
  maxVoters: number;
}

const LOSS_CONFIRM_MS = 1000;

interface PodEndpoint {
  name: string;
  url: string;
}

interface Member {
  id: string;
  name: string;
  isLearner: boolean;
  peerURLs: string[];
}

/** A member's pod name from its peer URL (`http://etcd-main-1.etcd-main:2380`), if it holds one. */
function nameFromPeerURLs(peerURLs: string[]): string {
  for (const u of peerURLs) {
    const host = URL.canParse(u) ? new URL(u).hostname : '';
    if (host && !/^[\d.]+$/.test(host) && !host.includes(':')) return host.split('.')[0]!;
  }
  return '';
}

export class QuorumMonitor {
  private running = false;
  private loop?: Promise<void>;
  private readonly clients = new Map<string, Etcd3>();
  private endpoints: PodEndpoint[] = [];
  private members = new Map<string, Member>();
  private readonly events: MembershipEvent[] = [];
  private readonly leaderChanges: LeaderChange[] = [];
  private samples = 0;
  private withoutQuorum = 0;
  private lossStartedAt: number | null = null;
  private longestLoss = 0;
  private leaderlessSince: number | null = null;
  private longestLeaderless = 0;
  private maxVoters = 0;
  private readonly sides: { cluster: ClusterClient; namespace: string }[];

  constructor(
    namespace: string,
    private readonly intervalMs = 300,
  ) {
    this.sides = [
      { cluster: clusterClient('source'), namespace },
      { cluster: clusterClient('target'), namespace },
    ];
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** Pass the number of times a member name may legitimately be added (e.g. 2 after a retried join). */
  report(expectedAdds: (name: string) => number = () => 1): QuorumReport {
    const count = (kind: MembershipEvent['kind']) => {
      const n = new Map<string, number>();
      for (const e of this.events.filter((x) => x.kind === kind)) n.set(e.name, (n.get(e.name) ?? 0) + 1);
      return n;
    };
    const duplicates: string[] = [];
    for (const [name, n] of count('added'))
      if (n > expectedAdds(name)) duplicates.push(`${name} added ${n} times`);
    for (const [name, n] of count('removed'))
      if (n > expectedAdds(name)) duplicates.push(`${name} removed ${n} times`);
    for (const [name, n] of count('promoted'))
      if (n > expectedAdds(name)) duplicates.push(`${name} promoted ${n} times`);
    return {
      samples: this.samples,
      samplesWithoutQuorum: this.withoutQuorum,
      quorumLost: this.longestLoss >= LOSS_CONFIRM_MS,
      longestQuorumLossMs: this.longestLoss,
      longestLeaderlessMs: this.longestLeaderless,
      events: [...this.events],
      leaderChanges: [...this.leaderChanges],
      duplicateChanges: duplicates,
      maxVoters: this.maxVoters,
    };
  }

  private client(url: string): Etcd3 {
    let c = this.clients.get(url);
    if (!c) {
      c = new Etcd3({
        hosts: [url],
        dialTimeout: 500,
        faultHandling: { global: passThrough, host: () => passThrough },
        grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 },
      });
      this.clients.set(url, c);
    }
    return c;
  }

  private async refreshEndpoints(): Promise<void> {
    const found: PodEndpoint[] = [];
    for (const { cluster, namespace } of this.sides) {
      const pods = await cluster.core.listNamespacedPod({ namespace }).catch(() => undefined);
      for (const p of pods?.items ?? []) {
        // Every pod with an IP counts, ready or not: a member that is down must show as unreachable.
        if (p.status?.podIP && (isReady(p) || p.status.phase === 'Running'))
          found.push({ name: p.metadata!.name!, url: `http://${p.status.podIP}:2379` });
      }
    }
    this.endpoints = found;
  }

  private async statuses(): Promise<{ name: string; id: string; leader: string; term: number }[]> {
    const statuses = await Promise.all(
      this.endpoints.map(async (e) => {
        try {
          const s = await this.client(e.url).maintenance.status({ deadline: Date.now() + 700 });
          return { name: e.name, id: s.header.member_id, leader: s.leader, term: Number(s.raftTerm) };
        } catch {
          return undefined;
        }
      }),
    );
    return statuses.filter((s): s is NonNullable<typeof s> => s !== undefined);
  }

  private membershipDiffers(list: Member[]): boolean {
    return (
      list.length !== this.members.size || list.some((m) => this.members.get(m.id)?.isLearner !== m.isLearner)
    );
  }

  private async sample(): Promise<void> {
    const deadline = () => ({ deadline: Date.now() + 700 });
    let answered = await this.statuses();
    let list: Member[] | undefined;
    for (const s of answered) {
      const url = this.endpoints.find((e) => e.name === s.name)!.url;
      try {
        const r = await this.client(url).cluster.memberList({ linearizable: false }, deadline());
        list = r.members.map((m) => ({
          id: m.ID,
          name: m.name,
          isLearner: Boolean(m.isLearner),
          peerURLs: m.peerURLs,
        }));
        break;
      } catch {
        // try the next member
      }
    }
    // A change in the list may have followed a leader change the statuses read before it missed
    // (a removal right after moving the leadership off the member): read them again, so that the
    // leader is never older than the membership it is recorded with.
    if (list && this.members.size > 0 && this.membershipDiffers(list)) answered = await this.statuses();
    const now = Date.now();
    this.samples++;
    if (list) this.recordMembership(list, now);
    this.recordLeader(answered, now);
    const voters = [...this.members.values()].filter((m) => !m.isLearner);
    this.maxVoters = Math.max(this.maxVoters, voters.length);
    const answeredIds = new Set(answered.filter((s) => s.leader !== '0').map((s) => s.id));
    const reachableVoters = voters.filter((v) => answeredIds.has(v.id)).length;
    const hasQuorum = voters.length > 0 && reachableVoters >= Math.floor(voters.length / 2) + 1;
    if (!hasQuorum && voters.length > 0) {
      this.withoutQuorum++;
      this.lossStartedAt ??= now;
      this.longestLoss = Math.max(this.longestLoss, now - this.lossStartedAt);
    } else this.lossStartedAt = null;
    if (answeredIds.size === 0 && voters.length > 0) {
      this.leaderlessSince ??= now;
      this.longestLeaderless = Math.max(this.longestLeaderless, now - this.leaderlessSince);
    } else this.leaderlessSince = null;
  }

  private recordMembership(list: Member[], now: number): void {
    const at = new Date(now).toISOString();
    const first = this.members.size === 0;
    const seen = new Set<string>();
    for (const m of list) {
      seen.add(m.id);
      const before = this.members.get(m.id);
      // A learner that has not started yet has no name: its peer URL names it (a learner killed
      // before it published its name keeps none), else its events get it once it is known.
      const name = m.name || before?.name || nameFromPeerURLs(m.peerURLs);
      if (!before && !first) this.events.push({ at, kind: 'added', id: m.id, name: name || m.id });
      else if (before?.isLearner && !m.isLearner)
        this.events.push({ at, kind: 'promoted', id: m.id, name: name || m.id });
      if (before && !before.name && m.name) this.renameEvents(m.id, m.name);
      this.members.set(m.id, { ...m, name });
    }
    for (const [id, m] of this.members) {
      if (!seen.has(id)) {
        this.events.push({ at, kind: 'removed', id, name: m.name || id });
        this.members.delete(id);
      }
    }
  }

  private renameEvents(id: string, name: string): void {
    for (const e of [...this.events, ...this.leaderChanges]) if (e.id === id) e.name = name;
  }

  /** The member that says it leads (the highest term's, should an old leader not know yet). */
  private recordLeader(answered: { id: string; leader: string; term: number }[], now: number): void {
    const leading = answered.filter((s) => s.leader !== '0' && s.leader === s.id);
    if (leading.length === 0) return;
    const leader = leading.reduce((a, b) => (b.term > a.term ? b : a));
    if (this.leaderChanges.at(-1)?.id === leader.id) return;
    const name = this.members.get(leader.id)?.name || leader.id;
    this.leaderChanges.push({ at: new Date(now).toISOString(), id: leader.id, name });
  }

  private async run(): Promise<void> {
    let lastRefresh = 0;
    while (this.running) {
      const started = Date.now();
      if (started - lastRefresh > 1000) {
        await this.refreshEndpoints();
        lastRefresh = started;
      }
      await this.sample();
      const rest = this.intervalMs - (Date.now() - started);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  }
}
