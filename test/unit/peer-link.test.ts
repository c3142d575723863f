import { describe, expect, it } from 'vitest';
import type { EtcdConnection } from '../../activities/etcd/connection.js';
import { awaitSteadyPeerLink, parsePeerLink, peerLabel } from '../../activities/etcd/peer-link.js';
import { noopRunContext } from '../../activities/run-context.js';

// As an etcd leader (ID 8e9e05c52164694d) serves them, for two peers.
const METRICS = [
  '# HELP etcd_network_active_peers The current number of active peer connections.',
  '# TYPE etcd_network_active_peers gauge',
  'etcd_network_active_peers{Local="8e9e05c52164694d",Remote="91bc3c398fb3c146"} 1',
  'etcd_network_active_peers{Local="8e9e05c52164694d",Remote="fd422379fda50e48"} 0',
  '# TYPE etcd_network_disconnected_peers_total counter',
  'etcd_network_disconnected_peers_total{Local="8e9e05c52164694d",Remote="fd422379fda50e48"} 7',
  'etcd_network_peer_round_trip_time_seconds_bucket{To="91bc3c398fb3c146",le="0.0001"} 0',
  'etcd_network_peer_round_trip_time_seconds_sum{To="91bc3c398fb3c146"} 0.000151454',
  'etcd_network_peer_round_trip_time_seconds_count{To="91bc3c398fb3c146"} 2',
  'etcd_network_peer_round_trip_time_seconds_sum{To="fd422379fda50e48"} 0',
  'etcd_network_peer_round_trip_time_seconds_count{To="fd422379fda50e48"} 20',
].join('\n');

describe('peer link from a voter /metrics', () => {
  it('labels peers with the member ID in hex, as etcd does', () => {
    expect(peerLabel('10501334649042878790')).toBe('91bc3c398fb3c146');
    expect(peerLabel(BigInt('0xfd422379fda50e48').toString())).toBe('fd422379fda50e48');
  });

  it('reads whether a peer is connected and how often it dropped', () => {
    expect(parsePeerLink(METRICS, BigInt('0x91bc3c398fb3c146').toString())).toEqual({
      active: true,
      disconnects: 0,
      probes: { count: 2, sum: 0.000151454 },
    });
    expect(parsePeerLink(METRICS, BigInt('0xfd422379fda50e48').toString())).toEqual({
      active: false,
      disconnects: 7,
      probes: { count: 20, sum: 0 },
    });
  });

  it('tells a peer the voter never connected to (no series) from a disconnected one', () => {
    expect(parsePeerLink(METRICS, '12345')).toEqual({ active: null, disconnects: 0, probes: null });
  });

  it('does not take the Local label for the Remote one', () => {
    expect(parsePeerLink(METRICS, BigInt('0x8e9e05c52164694d').toString()).active).toBeNull();
  });
});

describe('waiting for the voter to reach a learner', () => {
  const learner = {
    id: BigInt('0x91bc3c398fb3c146').toString(),
    name: 'etcd-main-0',
    peerURLs: ['http://lb:2380'],
  };
  const voterServing = (...texts: string[]) => {
    let reads = 0;
    const conn = {
      httpGet: () => Promise.resolve(texts[Math.min(reads++, texts.length - 1)]!),
    } as unknown as EtcdConnection;
    return { conn, reads: () => reads };
  };
  const series = (active: number, count: number, sum: number, disconnects = 0) =>
    [
      `etcd_network_active_peers{Local="8e9e05c52164694d",Remote="91bc3c398fb3c146"} ${active}`,
      `etcd_network_disconnected_peers_total{Local="8e9e05c52164694d",Remote="91bc3c398fb3c146"} ${disconnects}`,
      ...(count
        ? [
            `etcd_network_peer_round_trip_time_seconds_sum{To="91bc3c398fb3c146"} ${sum}`,
            `etcd_network_peer_round_trip_time_seconds_count{To="91bc3c398fb3c146"} ${count}`,
          ]
        : []),
    ].join('\n');

  it('passes at the first read once the prober got an answer from the peer URL (no window waited)', async () => {
    const { conn, reads } = voterServing(series(1, 2, 0.0004));
    const check = await awaitSteadyPeerLink(conn, 'etcd-0', learner, {
      rc: noopRunContext,
      windowMs: 600_000,
      pollMs: 600_000,
    });
    expect(check.checked).toBe(true);
    expect(reads()).toBe(1);
  });

  it('waits for the prober record while the connection is up, then passes', async () => {
    const { conn, reads } = voterServing(series(1, 0, 0), series(1, 0, 0), series(1, 1, 0.0003));
    const check = await awaitSteadyPeerLink(conn, 'etcd-0', learner, { rc: noopRunContext, pollMs: 1 });
    expect(check.checked).toBe(true);
    expect(reads()).toBe(3);
  });

  it('refuses a learner whose peer URL never answered the prober, although the link counts as up', async () => {
    const { conn } = voterServing(series(1, 4, 0));
    await expect(
      awaitSteadyPeerLink(conn, 'etcd-0', learner, { rc: noopRunContext, pollMs: 1, deadlineMs: 20 }),
    ).rejects.toThrow(/prober never got an answer/);
  });

  it('without a prober metric, passes at the deadline only if the link stayed up for a window', async () => {
    const flapping = voterServing(series(1, 0, 0, 0), series(1, 0, 0, 1), series(1, 0, 0, 2));
    await expect(
      awaitSteadyPeerLink(flapping.conn, 'etcd-0', learner, {
        rc: noopRunContext,
        pollMs: 5,
        windowMs: 10_000,
        deadlineMs: 30,
      }),
    ).rejects.toThrow(/did not stay up/);
    const steady = voterServing(series(1, 0, 0, 3));
    const check = await awaitSteadyPeerLink(steady.conn, 'etcd-0', learner, {
      rc: noopRunContext,
      pollMs: 5,
      windowMs: 10,
      deadlineMs: 30,
    });
    expect(check).toMatchObject({ checked: true, note: 'no prober metric for the learner' });
  });
});
