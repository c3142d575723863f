/**
 * Preflight of a resumed run (`MigrationInput.resume`, `etcd-stretch start --resume`): instead of
 * refusing what an earlier run of this migration left (the target StatefulSet, new members,
 * learners, a partly scaled source), it reads it and plans only what is left
 * (core/planner/resume.ts). Read-only like the preflight; it still refuses a target StatefulSet
 * this migration did not make, an unhealthy started voter, a raised alarm, and any state the plan
 * does not pass through. The normal preflight's checks of the source (versions, ports, Secrets,
 * hashKV) ran when the migration started; the safety guard checks every membership change again.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import { withConnection } from '../etcd/connection.js';
import { observeCluster } from '../etcd/observe.js';
import type { ClusterObservation } from '../etcd/types.js';
import { sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { readStatefulSetOptional } from '../kubernetes/discover-source.js';
import { SOURCE_MEMBERS_ANNOTATION } from '../kubernetes/labels.js';
import { isOurTarget } from '../kubernetes/validate-target.js';
import { resolveRunContext } from '../run-context.js';
import type { PreflightReport } from '../../core/activity-contract.js';
import type { ObservedMember } from '../../core/planner/plan-types.js';
import { planResume } from '../../core/planner/resume.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { etcdAccess } from './etcd-access.js';
import { toEvidence } from './evidence.js';
import { clusterAccessRefusals, hexId, observedMembers, type PreflightDeps } from './preflight.js';

const NOTHING_OBSERVED = { warnings: [], observed: { members: [] }, sourceReplicas: 0 };

export async function resumePreflight(deps: PreflightDeps, spec: MigrationSpec): Promise<PreflightReport> {
  if (spec.workers.mode === 'per-cluster') {
    return {
      ...NOTHING_OBSERVED,
      refusals: [
        'resume reads both clusters and the whole member list from one worker: run it with workers.mode single (a worker with both contexts)',
      ],
    };
  }
  const unreachable = await clusterAccessRefusals(deps.clients, spec, ['source', 'target']);
  if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
  const e: KubeEnv = { clients: deps.clients, rc: resolveRunContext() };
  const [sourceSts, targetSts] = await Promise.all([
    readStatefulSetOptional(sideOf(e, spec, 'source'), spec.source.statefulSet),
    readStatefulSetOptional(sideOf(e, spec, 'target'), spec.target.statefulSet),
  ]);
  const refusals: string[] = [];
  if (targetSts && !isOurTarget(targetSts, spec)) {
    refusals.push(
      `StatefulSet ${spec.target.namespace}/${spec.target.statefulSet} in ${spec.target.context} was not made by this migration (label/annotation etcd-stretch.io missing or from another source): resume adopts only what this migration made`,
    );
  }
  const startedFrom = targetSts ? startedFromOf(targetSts) : undefined;
  if (startedFrom === null) {
    refusals.push(
      `StatefulSet ${spec.target.statefulSet} does not record the source members the migration started from (annotation ${SOURCE_MEMBERS_ANNOTATION}, written since resume exists): finish this migration by hand`,
    );
  }
  if (refusals.length > 0) return { ...NOTHING_OBSERVED, refusals };

  const access = await etcdAccess(e, spec, { cluster: deps.cluster });
  let obs: ClusterObservation;
  try {
    obs = await withConnection(access, deps.secrets, observeCluster);
  } catch (err) {
    return {
      ...NOTHING_OBSERVED,
      refusals: [`cannot observe etcd: ${err instanceof Error ? err.message : String(err)}`],
    };
  }
  refusals.push(...healthRefusals(obs));
  const report: PreflightReport = {
    refusals,
    warnings: [],
    observed: { members: observedMembers(obs) },
    sourceReplicas: sourceSts?.spec?.replicas ?? 0,
    evidence: toEvidence(spec, obs),
  };
  if (refusals.length > 0) return report;
  try {
    const resumed = planResume(spec, {
      members: report.observed.members,
      ...(startedFrom ? { startedFrom } : {}),
      sourceReplicas: sourceSts ? (sourceSts.spec?.replicas ?? 1) : null,
      targetReplicas: targetSts ? (targetSts.spec?.replicas ?? 1) : null,
    });
    const pending = resumed.plan.steps.find((s) => !s.adopted);
    return {
      ...report,
      observed: { members: resumed.members },
      warnings: [
        `resume: ${resumed.adopted} of ${resumed.plan.steps.length} steps were done by an earlier run${pending ? `; going on with ${pending.id}` : ''}`,
      ],
      plan: resumed.plan,
    };
  } catch (err) {
    return { ...report, planError: err instanceof Error ? err.message : String(err) };
  }
}

/** The source members recorded on the target StatefulSet; null when it has none (made before resume). */
function startedFromOf(sts: V1StatefulSet): ObservedMember[] | null {
  const raw = sts.metadata?.annotations?.[SOURCE_MEMBERS_ANNOTATION];
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as { name: string; peerURLs: string[] }[];
    return parsed.map(({ name, peerURLs }) => ({ name, peerURLs, isLearner: false }));
  } catch {
    return null;
  }
}

/**
 * Every started voter answers and is healthy, and no alarm is raised. A learner that has not
 * started yet, or is still catching up, is what the plan goes on from.
 */
function healthRefusals(obs: ClusterObservation): string[] {
  const refusals: string[] = [];
  const voters = new Set(obs.members.filter((m) => m.name && !m.isLearner).map((m) => m.name));
  for (const ep of obs.endpoints) {
    if (!voters.has(ep.name)) continue;
    if (!ep.reachable || !ep.health?.healthy)
      refusals.push(
        `etcd member ${ep.name} (${ep.endpoint}) is not healthy: ${ep.error ?? ep.health?.error ?? 'no answer'}; every voter must be healthy to go on`,
      );
  }
  for (const m of obs.members) {
    if (voters.has(m.name) && !obs.endpoints.some((ep) => ep.name === m.name))
      refusals.push(`etcd member ${m.name} (${hexId(m.id)}) has no running pod the worker can reach`);
  }
  for (const a of obs.alarms) refusals.push(`etcd alarm ${a.alarm} is raised: resolve and disarm it first`);
  return refusals;
}
