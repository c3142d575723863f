/**
 * How unkind the sandbox is: the link between the clusters (all cross-cluster traffic passes
 * the load-balancer proxies), how long a changed CoreDNS Corefile takes to apply, and whether
 * each cluster's "cloud" gives load balancers an IP or a hostname. Kept in
 * `<sandboxDir>/topology.json`; the node agents read it on every reconcile, so a test or the
 * demo can change it on a running sandbox (`setTopology`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { sandboxDir, type ClusterName } from './config.js';

export type LbAddressKind = 'ip' | 'hostname';

export interface LinkShape {
  /** Round trip added between the clusters (half each way). */
  rttMs: number;
  /** Up to this much extra delay per chunk each way, uniformly drawn (order is kept). */
  jitterMs: number;
  /** Share of chunks that are "lost": delivered one retransmission timeout late, as TCP would. */
  lossPercent: number;
  /** Each direction of each connection is paced to this rate; 0 means unlimited. */
  bandwidthMbit: number;
}

export interface SandboxTopology {
  link: LinkShape;
  /** Seconds before a changed kube-system/coredns Corefile reaches the pods' DNS view. */
  dnsDelayS: number;
  lbAddressKind: Record<ClusterName, LbAddressKind>;
}

/** What a bare `sandbox up` gives: the sandbox's own tests run fast on it. */
export const KIND_TOPOLOGY: SandboxTopology = {
  link: { rttMs: 0, jitterMs: 0, lossPercent: 0, bandwidthMbit: 0 },
  dnsDelayS: 0,
  lbAddressKind: { source: 'ip', target: 'ip' },
};

/** Two clouds: what the demo and the acceptance run use unless told otherwise. */
export const TWO_CLOUDS_TOPOLOGY: SandboxTopology = {
  link: { rttMs: 20, jitterMs: 2, lossPercent: 0, bandwidthMbit: 100 },
  dnsDelayS: 30,
  lbAddressKind: { source: 'ip', target: 'hostname' },
};

export function topologyPath(): string {
  return path.join(sandboxDir(), 'topology.json');
}

export function readTopology(): SandboxTopology {
  try {
    const raw = JSON.parse(fs.readFileSync(topologyPath(), 'utf8')) as Partial<SandboxTopology>;
    return {
      link: { ...KIND_TOPOLOGY.link, ...raw.link },
      dnsDelayS: raw.dnsDelayS ?? KIND_TOPOLOGY.dnsDelayS,
      lbAddressKind: { ...KIND_TOPOLOGY.lbAddressKind, ...raw.lbAddressKind },
    };
  } catch {
    return structuredClone(KIND_TOPOLOGY);
  }
}

/** Writes the topology atomically (a node agent never reads half a file). */
export function setTopology(t: SandboxTopology): void {
  const file = topologyPath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(t, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
