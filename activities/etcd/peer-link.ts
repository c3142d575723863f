/**
 * Whether a voter has a steady raft connection to a learner, read from the voter's own
 * /metrics (`etcd_network_active_peers`, `etcd_network_disconnected_peers_total`).
 *
 * Why before a promote: etcd's raft stream to a learner is dialled by the learner, so a learner
 * whose own peer URL (its load balancer) is unreachable still catches up and etcd lets it be
 * promoted. The leader then counts the new voter as not connected and refuses every later
 * membership change ("unhealthy cluster"); the fault run with a broken load balancer found it
 * one join late. The leader's dials to the learner fail, and its metrics say so.
 */
import type { EtcdConnection } from './connection.js';
import { LearnerUnreachable, messageOf } from './errors.js';
import { sleep, type RunContext } from './run-context.js';

export interface PeerLinkSample {
  /** `etcd_network_active_peers` for the remote; null when the voter never connected to it. */
  active: boolean | null;
  /** `etcd_network_disconnected_peers_total` for the remote (0 when absent). */
  disconnects: number;
}

/** etcd labels peers with the member ID in hex (types.ID.String()). */
export function peerLabel(memberId: string): string {
  return BigInt(memberId).toString(16);
}

/** The voter's view of one remote peer, from its Prometheus text exposition. */
export function parsePeerLink(metricsText: string, remoteId: string): PeerLinkSample {
  const remote = `Remote="${peerLabel(remoteId)}"`;
  const value = (metric: string): number | null => {
    const line = metricsText
      .split('\n')
      .find((l) => l.startsWith(`${metric}{`) && l.slice(0, l.indexOf('}')).includes(remote));
    return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const active = value('etcd_network_active_peers');
  return {
    active: active === null ? null : active > 0,
    disconnects: value('etcd_network_disconnected_peers_total') ?? 0,
  };
}

export interface PeerLinkCheck {
  /** False when the voter's /metrics could not be read (the check could not be made). */
  checked: boolean;
  voter: string;
  note?: string;
}

export interface PeerLinkOptions {
  /** The two samples of one check are this far apart (default 1 s). */
  windowMs?: number;
  /** Keep checking this long before refusing (default 30 s). */
  deadlineMs?: number;
  rc: RunContext;
}

/**
 * Waits until `voter` (an endpoint-map name) holds an active connection to the learner that
 * did not drop within one window; throws LearnerUnreachable at the deadline. When the voter's
 * /metrics cannot be read the check is skipped (returned as not checked), not failed.
 */
export async function awaitSteadyPeerLink(
  conn: EtcdConnection,
  voter: string,
  learner: { id: string; name: string; peerURLs: string[] },
  opts: PeerLinkOptions,
): Promise<PeerLinkCheck> {
  const windowMs = opts.windowMs ?? 1_000;
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const deadline = Date.now() + deadlineMs;
  const who = learner.name || learner.id;
  const sample = async () => parsePeerLink(await conn.httpGet(voter, '/metrics'), learner.id);
  let unreadable: string | undefined;
  let first: PeerLinkSample | undefined;
  let since: number | undefined;
  for (;;) {
    let next: PeerLinkSample | undefined;
    try {
      next = await sample();
      unreadable = undefined;
    } catch (err) {
      unreadable = `could not read ${voter}'s /metrics: ${messageOf(err)}`;
      // Never readable (metrics served elsewhere, or not to us): skip rather than wait.
      if (since === undefined) return { checked: false, voter, note: unreadable };
    }
    if (next) {
      since ??= next.disconnects;
      if (first?.active && next.active && next.disconnects === first.disconnects)
        return { checked: true, voter };
    }
    if (Date.now() > deadline) {
      if (!next) return { checked: false, voter, note: unreadable };
      throw new LearnerUnreachable(
        `the leader ${voter} has no steady peer connection to learner ${who} ` +
          `(${next.active === null ? 'never connected' : next.active ? 'connected' : 'not connected'}, ` +
          `${next.disconnects - (since ?? next.disconnects)} disconnect(s) in ${deadlineMs} ms): its peer URL ` +
          `${learner.peerURLs.join(', ')} is not reachable from the leader; check the member's ` +
          `load balancer (peer port) and the firewall between the clusters`,
        { details: { voter, memberId: learner.id, active: next.active } },
      );
    }
    opts.rc.heartbeat({ waitingFor: `peer link ${voter} -> ${who}`, ...(next ?? { unreadable }) });
    first = next;
    await sleep(windowMs, opts.rc.signal);
  }
}
