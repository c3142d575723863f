/**
 * Preflight: everything a migration needs, checked before anything changes, read-only in both
 * clusters. Each problem is one refusal naming the object or spec field; the workflow stops on any.
 */
import type { ClusterObservation } from '../etcd/types.js';
import type { EtcdActivities } from '../etcd/index.js';
import type { ClientsForContext } from '../kubernetes/clients.js';
import { resolveRunContext } from '../etcd/run-context.js';
import { validateMigrationPreconditions } from '../kubernetes/validate-target.js';
import type { PreflightReport } from '../../workflows/activity-contract.js';
import type { MigrationSpec } from '../../workflows/spec/schema.js';
import { dnsCollisions } from './dns-collisions.js';
import { accessFromPods, memberPods } from './etcd-access.js';
import { toEvidence } from './evidence.js';

export async function preflight(
  deps: { clients: ClientsForContext; etcd: EtcdActivities },
  spec: MigrationSpec,
): Promise<PreflightReport> {
  const etcd = deps.etcd;
  const e = { clients: deps.clients, rc: resolveRunContext() };
  const report = await validateMigrationPreconditions(e, { spec });
  const refusals = report.refusals.map((r) => r.message);
  const warnings = [...report.warnings];
  const empty: PreflightReport = {
    refusals,
    warnings,
    observed: { members: [] },
    sourceReplicas: report.sourceReplicas ?? 0,
  };
  if (report.refusals.some((r) => r.code === 'SourceStatefulSetMissing')) return empty;
  const pods = await memberPods(e, spec);
  const access = accessFromPods(spec, pods, ['source']);
  if (Object.keys(access.endpoints).length === 0) {
    return {
      ...empty,
      refusals: [
        ...refusals,
        `no running pod of StatefulSet ${spec.source.namespace}/${spec.source.statefulSet} has an IP to reach etcd through`,
      ],
    };
  }
  let obs: ClusterObservation;
  try {
    obs = await etcd.etcdObserveCluster({ access });
  } catch (err) {
    return {
      ...empty,
      refusals: [
        ...refusals,
        `cannot observe the source etcd: ${err instanceof Error ? err.message : String(err)}`,
      ],
    };
  }
  for (const m of obs.members) {
    if (m.isLearner)
      refusals.push(
        `etcd member ${m.name || m.id} is a learner: finish or remove that membership change first`,
      );
    if (!m.name)
      refusals.push(
        `etcd member ${m.id} was added but never started: remove it first (etcdctl member remove ${BigInt(m.id).toString(16)})`,
      );
  }
  for (const ep of obs.endpoints) {
    if (!ep.reachable || !ep.health?.healthy)
      refusals.push(`etcd member ${ep.name} is not healthy: ${ep.error ?? ep.health?.error ?? 'no answer'}`);
  }
  for (const a of obs.alarms)
    refusals.push(
      `etcd alarm ${a.alarm} is raised on member ${a.memberId}: disarm it (after freeing space) first`,
    );
  for (const id of obs.unobservedMemberIds)
    refusals.push(`etcd member ${id} has no running pod the worker can reach`);
  refusals.push(...(await dnsCollisions(e, spec, obs.members.length)));
  return {
    refusals,
    warnings,
    observed: {
      members: obs.members.map((m) => ({
        name: m.name,
        id: m.id,
        peerURLs: m.peerURLs,
        isLearner: m.isLearner,
      })),
    },
    sourceReplicas: report.sourceReplicas ?? obs.members.length,
    evidence: toEvidence(spec, obs),
  };
}
