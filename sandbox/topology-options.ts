/** The command-line options of `sandbox up` and `sandbox topology` that set the sandbox topology. */
import { InvalidArgumentError, type Command } from 'commander';
import { CLUSTERS, type ClusterName } from './config.js';
import { KIND_TOPOLOGY, TWO_CLOUDS_TOPOLOGY, type SandboxTopology } from './topology.js';

export const PRESETS: Record<string, SandboxTopology> = {
  kind: KIND_TOPOLOGY,
  'two-clouds': TWO_CLOUDS_TOPOLOGY,
};

export interface TopologyOptions {
  preset?: string;
  rttMs?: number;
  jitterMs?: number;
  lossPercent?: number;
  bandwidthMbit?: number;
  dnsDelayS?: number;
  lbHostnames?: ClusterName[];
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

function percent(value: string): number {
  const n = nonNegative(value);
  if (n > 100) throw new InvalidArgumentError('expected a percentage from 0 to 100');
  return n;
}

function presetName(value: string): string {
  if (!PRESETS[value]) throw new InvalidArgumentError(`expected one of ${Object.keys(PRESETS).join(', ')}`);
  return value;
}

/** `target`, `source,target`, or `none`. */
export function parseClusterList(value: string): ClusterName[] {
  if (value === 'none') return [];
  const names = value.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!CLUSTERS.includes(n as ClusterName))
      throw new InvalidArgumentError(`expected cluster names (${CLUSTERS.join(', ')}) or none, got "${n}"`);
  }
  return names as ClusterName[];
}

export function addTopologyOptions(cmd: Command): Command {
  return cmd
    .option(
      '--preset <name>',
      `start from a preset topology (${Object.keys(PRESETS).join(', ')})`,
      presetName,
    )
    .option('--rtt-ms <ms>', 'round trip added between the clusters', nonNegative)
    .option('--jitter-ms <ms>', 'up to this much extra delay per chunk each way', nonNegative)
    .option('--loss-percent <p>', 'share of chunks delivered one retransmission timeout late', percent)
    .option(
      '--bandwidth-mbit <mbit>',
      'rate of each direction of each cross-cluster connection (0: unlimited)',
      nonNegative,
    )
    .option('--dns-delay-s <s>', 'seconds before a changed CoreDNS Corefile reaches the pods', nonNegative)
    .option(
      '--lb-hostnames <clusters>',
      'clusters whose load balancers report a hostname instead of an IP (comma list, or none)',
      parseClusterList,
    );
}

/** `base` (or the preset) with the given options applied. */
export function topologyFromOptions(base: SandboxTopology, o: TopologyOptions): SandboxTopology {
  let start = base;
  if (o.preset !== undefined) {
    const preset = PRESETS[o.preset];
    if (!preset) throw new Error(`unknown preset "${o.preset}" (${Object.keys(PRESETS).join(', ')})`);
    start = preset;
  }
  const t = structuredClone(start);
  if (o.rttMs !== undefined) t.link.rttMs = o.rttMs;
  if (o.jitterMs !== undefined) t.link.jitterMs = o.jitterMs;
  if (o.lossPercent !== undefined) t.link.lossPercent = o.lossPercent;
  if (o.bandwidthMbit !== undefined) t.link.bandwidthMbit = o.bandwidthMbit;
  if (o.dnsDelayS !== undefined) t.dnsDelayS = o.dnsDelayS;
  if (o.lbHostnames !== undefined) {
    for (const c of CLUSTERS) t.lbAddressKind[c] = o.lbHostnames.includes(c) ? 'hostname' : 'ip';
  }
  return t;
}

export function describeTopology(t: SandboxTopology): string {
  const { rttMs, jitterMs, lossPercent, bandwidthMbit } = t.link;
  const lbs = CLUSTERS.map((c) => `${c}:${t.lbAddressKind[c]}`).join(' ');
  return (
    `link: rtt ${rttMs} ms, jitter ${jitterMs} ms, loss ${lossPercent} %, ` +
    `bandwidth ${bandwidthMbit ? `${bandwidthMbit} Mbit/s` : 'unlimited'}\n` +
    `dns delay: ${t.dnsDelayS} s\nload-balancer addresses: ${lbs}\n`
  );
}
