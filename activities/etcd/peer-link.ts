/**
 * Whether a voter reaches a learner's peer URL, read from the voter's own /metrics
 * (`etcd_network_active_peers`, `etcd_network_disconnected_peers_total`,
 * `etcd_network_peer_round_trip_time_seconds`).
 *
 * Why before a promote: etcd's raft streams to a learner can all run over connections the
 * learner dialled, so a learner whose own peer URL (its load balancer) is unreachable still
 * catches up and etcd lets it be promoted. etcd 3.4 then counts the new voter as not connected
 * and refuses every later membership change ("unhealthy cluster"); 3.5+ keeps it, but can never
 * send it a snapshot. The fault run with a broken load balancer found it one join late.
 * Measured with a peer URL that accepts and never answers: etcd 3.4 marks the learner not
 * connected ~5 s after it starts (its hung dial times out); 3.5 keeps it "connected", but the
 * prober's RTT records stay 0 (it never got an answer).
 */
import type { EtcdConnection } from './connection.js';
import { LearnerUnreachable, messageOf } from './errors.js';
import { sleep, type RunContext } from '../run-context.js';
import type { PeerLinkCheck } from './types.js';

export interface PeerLinkSample {
  /** `etcd_network_active_peers` for the remote; null when the voter never connected to it. */
  active: boolean | null;
  /** `etcd_network_disconnected_peers_total` for the remote (0 when absent). */
  disconnects: number;
  /**
   * `etcd_network_peer_round_trip_time_seconds` for the remote: the voter's prober (GET
   * /raft/probing on the remote's peer URL every 4 s) records its smoothed RTT every 5 s while
   * unhealthy, every 30 s once healthy, 0 until a probe has ever answered. Null: no series yet.
   */
  probes: { count: number; sum: number } | null;
}

/** etcd labels peers with the member ID in hex (types.ID.String()). */
export function peerLabel(memberId: string): string {
  return BigInt(memberId).toString(16);
}

/** The voter's view of one remote peer, from its Prometheus text exposition. */
export function parsePeerLink(metricsText: string, remoteId: string): PeerLinkSample {
  const label = peerLabel(remoteId);
  const lines = metricsText.split('\n');
  const value = (metric: string, labelPair: string): number | null => {
    const line = lines.find(
      (l) => l.startsWith(`${metric}{`) && l.slice(0, l.indexOf('}')).includes(labelPair),
    );
    return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const remote = `Remote="${label}"`;
  const to = `To="${label}"`;
  const active = value('etcd_network_active_peers', remote);
  const count = value('etcd_network_peer_round_trip_time_seconds_count', to);
  const sum = value('etcd_network_peer_round_trip_time_seconds_sum', to);
  return {
    active: active === null ? null : active > 0,
    disconnects: value('etcd_network_disconnected_peers_total', remote) ?? 0,
    probes: count === null || sum === null ? null : { count, sum },
  };
}

const NO_PROBE_RECORD = 'no prober record yet';

interface TimedSample {
  sample: PeerLinkSample;
  at: number;
}

/**
 * The voter's prober dialled the learner's own peer URL (its load balancer) and got an answer:
 * proof that the voter reaches the learner, whichever side dialled the raft streams. Its first
 * record comes at most 5 s after the learner first answers, usually while it is still catching up.
 */
function proberReached(sample: PeerLinkSample): boolean {
  return sample.active === true && !!sample.probes && sample.probes.count > 0 && sample.probes.sum > 0;
}

/** Why the voter's view does not (yet) show a working link, or null when it does. */
function linkTrouble(next: PeerLinkSample): string | null {
  if (next.active === null) return 'never connected';
  if (!next.active) return 'not connected';
  // etcd 3.5+ keeps counting a peer as connected while its own dials hang (no read timeout on
  // them); its prober, which dials the peer URL too, tells.
  if (next.probes && next.probes.count > 0 && next.probes.sum === 0)
    return `its prober never got an answer from the peer URL (${next.probes.count} probe records)`;
  if (proberReached(next)) return null;
  return NO_PROBE_RECORD;
}

/**
 * Without a prober record, how long the connection must have stayed up with no disconnect: longer
 * than etcd 3.4's peer read timeout (rafthttp ConnReadTimeout, 5 s), so that a voter whose dials
 * to the learner hang, counting it connected only through the learner's own dial, has dropped it.
 */
export const PEER_LINK_WINDOW_MS = 6_000;

/**
 * How often the voter's /metrics is read while waiting: the prober's record appears at a moment
 * of etcd's choosing, and the promote follows the read that sees it.
 */
export const PEER_LINK_POLL_MS = 250;

export interface PeerLinkOptions {
  /** Without a prober record, the connection must be steady this long (default PEER_LINK_WINDOW_MS). */
  windowMs?: number;
  /** Between two reads of the voter's /metrics (default PEER_LINK_POLL_MS). */
  pollMs?: number;
  /** Keep checking this long before refusing (default 30 s). */
  deadlineMs?: number;
  rc: RunContext;
}

/**
 * Waits until `voter` (an endpoint-map name) holds an active connection to the learner and its
 * prober has reached the learner's peer URL; throws LearnerUnreachable at the deadline. An etcd
 * that never shows a prober record for the learner passes at the deadline if the connection stayed
 * up, with no disconnect, for one window. When the voter's /metrics cannot be read the check is
 * skipped (returned as not checked), not failed.
 */
export async function awaitSteadyPeerLink(
  conn: EtcdConnection,
  voter: string,
  learner: { id: string; name: string; peerURLs: string[] },
  opts: PeerLinkOptions,
): Promise<PeerLinkCheck> {
  const windowMs = opts.windowMs ?? PEER_LINK_WINDOW_MS;
  const pollMs = opts.pollMs ?? PEER_LINK_POLL_MS;
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const started = Date.now();
  const deadline = started + deadlineMs;
  const waited = () => Date.now() - started;
  const who = learner.name || learner.id;
  const sample = async () => parsePeerLink(await conn.httpGet(voter, '/metrics'), learner.id);
  let unreadable: string | undefined;
  let read = false;
  // The first sample of the current stretch of samples with the link up and no disconnect.
  let steadySince: TimedSample | undefined;
  for (;;) {
    let next: TimedSample | undefined;
    try {
      next = { sample: await sample(), at: Date.now() };
      unreadable = undefined;
      read = true;
    } catch (err) {
      unreadable = `could not read ${voter}'s /metrics: ${messageOf(err)}`;
      // Never readable (metrics served elsewhere, or not to us): skip rather than wait.
      if (!read) return { checked: false, voter, note: unreadable, waitedMs: waited() };
    }
    if (next) {
      const up = next.sample.active === true;
      if (!up || next.sample.disconnects !== steadySince?.sample.disconnects)
        steadySince = up ? next : undefined;
    }
    const trouble = next ? linkTrouble(next.sample) : unreadable;
    if (trouble === null) return { checked: true, voter, waitedMs: waited() };
    if (Date.now() > deadline) {
      if (!next) return { checked: false, voter, note: unreadable, waitedMs: waited() };
      // An etcd without the prober metric: the connection held for a window; say what was not seen.
      if (trouble === NO_PROBE_RECORD && steadySince && next.at - steadySince.at >= windowMs)
        return { checked: true, voter, note: 'no prober metric for the learner', waitedMs: waited() };
      const why =
        trouble === NO_PROBE_RECORD
          ? `${trouble}, and the connection did not stay up for ${windowMs} ms`
          : trouble;
      throw new LearnerUnreachable(
        `voter ${voter} cannot reach learner ${who} (${why}, within ${deadlineMs} ms): its peer URL ` +
          `${learner.peerURLs.join(', ')} is not reachable from that voter; check the member's ` +
          `load balancer (peer port) and the firewall between the clusters`,
        { details: { voter, memberId: learner.id, trouble } },
      );
    }
    opts.rc.heartbeat({ waitingFor: `peer link ${voter} -> ${who}`, trouble });
    await sleep(pollMs);
  }
}
