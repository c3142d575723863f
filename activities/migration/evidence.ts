/** Evidence of the (possibly stretched) cluster's state: small, for the workflow's history and status. */
import type { ClusterObservation, HashKVResult } from '../etcd/types.js';
import type { Evidence, Side } from '../../core/activity-contract.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { sideOfMember } from './etcd-access.js';

/**
 * `served`: the sides whose members the worker reached by pod IP (default both). A member of
 * another side is reached through its load balancer, which exists before the member starts and
 * after it left: an endpoint there that did not answer and is no member (by name) is left out of
 * `health`, as a member without a pod IP is. A member that did not answer is unhealthy either way.
 */
export function toEvidence(
  spec: MigrationSpec,
  obs: ClusterObservation,
  hash?: HashKVResult,
  served: readonly Side[] = ['source', 'target'],
): Evidence {
  const byId = new Map(obs.members.map((m) => [m.id, m]));
  const named = new Set(obs.members.map((m) => m.name).filter(Boolean));
  const health: Record<string, boolean> = {};
  for (const e of obs.endpoints) {
    const side = sideOfMember(spec, e.name);
    const throughLoadBalancer = side !== 'unknown' && !served.includes(side);
    if (throughLoadBalancer && !e.reachable && !named.has(e.name)) continue;
    health[e.name] = e.reachable && (e.health?.healthy ?? false);
  }
  return {
    at: obs.observedAt,
    members: obs.members.map((m) => ({
      name: m.name,
      id: m.id,
      isLearner: m.isLearner,
      side: sideOfMember(spec, m.name),
    })),
    leader: obs.leaderId ? (byId.get(obs.leaderId)?.name ?? obs.leaderId) : null,
    health,
    hashKv: hash
      ? {
          revision: hash.revision,
          agree: hash.agree,
          hashes: Object.fromEntries(hash.hashes.map((h) => [h.name, String(h.hash)])),
        }
      : undefined,
    revision: Math.max(0, ...obs.endpoints.map((e) => e.status?.revision ?? 0)),
  };
}
