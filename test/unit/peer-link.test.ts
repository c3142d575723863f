import { describe, expect, it } from 'vitest';
import { parsePeerLink, peerLabel } from '../../activities/etcd/peer-link.js';

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
