/** Evidence of the (possibly stretched) cluster's state: small, for the workflow's history and status. */
import type { ClusterObservation, HashKVResult } from '../etcd/types.js';
import type { Evidence } from '../../core/activity-contract.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { sideOfMember } from './etcd-access.js';

export function toEvidence(spec: MigrationSpec, obs: ClusterObservation, hash?: HashKVResult): Evidence {
  const byId = new Map(obs.members.map((m) => [m.id, m]));
  const health: Record<string, boolean> = {};
  for (const e of obs.endpoints) health[e.name] = e.reachable && (e.health?.healthy ?? false);
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
