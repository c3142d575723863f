/**
 * Preflight of a resumed run (`MigrationInput.resume`, `etcd-stretch start --resume`): instead of
 * refusing what an earlier run of this migration left (the target StatefulSet, new members,
 * learners, a partly scaled source), it reads it and plans only what is left
 * (core/planner/resume.ts). Read-only like the preflight; it still refuses a target StatefulSet
 * this migration did not make, an unhealthy started voter, a raised alarm, and any state the plan
 * does not pass through. The normal preflight's checks of the source (versions, ports, Secrets,
 * hashKV) ran when the migration started; the safety guard checks every membership change again.
 *
 * Per-cluster mode runs it in two parts like the preflight: the source worker reads the source
 * StatefulSet and observes etcd through the source members it reaches (`resumeSource`); the
 * target worker reads the target StatefulSet, observes etcd through the target members, merges
 * the two views (the member list from either, each member's health from the side that reached
 * it) and makes the plan. Before the first join only the source answers; after the last old
 * member left, only the target.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import { withConnection } from '../etcd/connection.js';
import { observeCluster } from '../etcd/observe.js';
import type { ClusterObservation } from '../etcd/types.js';
import { sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { readServiceOptional, readStatefulSetOptional } from '../kubernetes/discover-source.js';
import { flagValue } from '../kubernetes/etcd-flags.js';
import { SOURCE_MEMBERS_ANNOTATION } from '../kubernetes/labels.js';
import { findEtcdContainer } from '../kubernetes/render-target.js';
import { sourceMembersOf } from '../kubernetes/target-statefulset.js';
import { toSourceManifests } from '../kubernetes/source-objects.js';
import { isOurTarget } from '../kubernetes/validate-target.js';
import { resolveRunContext } from '../run-context.js';
import type { PreflightInput, PreflightReport, ResumeSourceView } from '../../core/activity-contract.js';
import type { ObservedMember } from '../../core/planner/plan-types.js';
import { planResume } from '../../core/planner/resume.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { etcdAccess } from './etcd-access.js';
import { literalSecretEnvRefusal } from './preflight-secrets.js';
import { toEvidence } from './evidence.js';
import { clusterAccessRefusals, hexId, observedMembers, type PreflightDeps } from './preflight.js';

const NOTHING_OBSERVED = { warnings: [], observed: { members: [] }, sourceReplicas: 0 };

/** What one worker observed of etcd through the members it reaches, or why it observed nothing. */
type EtcdView = { observation: ClusterObservation } | { error: string };

/** What the target side holds: its StatefulSet, checked to be this migration's, and its start. */
interface TargetSide {
  refusals: string[];
  warnings: string[];
  replicas: number | null;
  startedFrom?: ObservedMember[];
}

export async function resumePreflight(deps: PreflightDeps, input: PreflightInput): Promise<PreflightReport> {
  const { spec } = input;
  const e: KubeEnv = { clients: deps.clients, rc: resolveRunContext() };
  if (input.part === 'source') {
    const unreachable = await clusterAccessRefusals(deps.clients, spec, ['source']);
    if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
    const view = await observeEtcd(deps, e, spec);
    const where = sideOf(e, spec, 'source');
    const sts = await readStatefulSetOptional(where, spec.source.statefulSet);
    const resumeSource: ResumeSourceView = {
      statefulSetReplicas: sts ? (sts.spec?.replicas ?? 1) : null,
      ...('observation' in view ? { observation: view.observation } : { observeError: view.error }),
    };
    if (!sts) return { ...NOTHING_OBSERVED, refusals: [], resumeSource };
    // The target worker renders the members still to start from these, as in a first run.
    const literal = literalSecretEnvRefusal(spec, sts);
    if (literal) return { ...NOTHING_OBSERVED, refusals: [literal] };
    const sourceManifests = toSourceManifests(sts, await readServiceOptional(where, spec.source.service));
    return { ...NOTHING_OBSERVED, refusals: [], resumeSource, sourceManifests };
  }
  if (input.part === 'target') {
    const source = input.sourceReport;
    if (source && source.refusals.length > 0) return source;
    const unreachable = await clusterAccessRefusals(deps.clients, spec, ['target']);
    if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
    const view = source?.resumeSource;
    if (!view) {
      return {
        ...NOTHING_OBSERVED,
        refusals: [
          "resume part target needs the source part's view (resumeSource): a worker of the source cluster runs it first",
        ],
      };
    }
    const target = await targetSideOf(e, spec);
    if (target.refusals.length > 0) return { ...NOTHING_OBSERVED, refusals: target.refusals };
    const sourceView: EtcdView = view.observation
      ? { observation: view.observation as ClusterObservation }
      : { error: view.observeError ?? 'no answer' };
    const merged = mergedViews(sourceView, await observeEtcd(deps, e, spec));
    const report = resumeReport(spec, merged, view.statefulSetReplicas, target);
    return source.sourceManifests ? { ...report, sourceManifests: source.sourceManifests } : report;
  }
  const unreachable = await clusterAccessRefusals(deps.clients, spec, ['source', 'target']);
  if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
  const [sourceReplicas, target] = await Promise.all([sourceReplicasOf(e, spec), targetSideOf(e, spec)]);
  if (target.refusals.length > 0) return { ...NOTHING_OBSERVED, refusals: target.refusals };
  return resumeReport(spec, await observeEtcd(deps, e, spec), sourceReplicas, target);
}

async function sourceReplicasOf(e: KubeEnv, spec: MigrationSpec): Promise<number | null> {
  const sts = await readStatefulSetOptional(sideOf(e, spec, 'source'), spec.source.statefulSet);
  return sts ? (sts.spec?.replicas ?? 1) : null;
}

async function targetSideOf(e: KubeEnv, spec: MigrationSpec): Promise<TargetSide> {
  const sts = await readStatefulSetOptional(sideOf(e, spec, 'target'), spec.target.statefulSet);
  if (!sts) return { refusals: [], warnings: [], replicas: null };
  const refusals: string[] = [];
  if (!isOurTarget(sts, spec)) {
    refusals.push(
      `StatefulSet ${spec.target.namespace}/${spec.target.statefulSet} in ${spec.target.context} was not made by this migration (label/annotation etcd-stretch.io missing or from another source): resume adopts only what this migration made`,
    );
  }
  const warnings: string[] = [];
  let startedFrom = startedFromOf(sts);
  if (startedFrom === null) {
    startedFrom = startedFromTemplate(spec, sts);
    if (startedFrom)
      warnings.push(
        `StatefulSet ${spec.target.statefulSet} does not record the source members the migration started from (annotation ${SOURCE_MEMBERS_ANNOTATION}, made before it existed): taken from its pod template's --initial-cluster (${startedFrom.map((m) => m.name).join(', ')}), the old members when its newest member joined`,
      );
    else
      refusals.push(
        `StatefulSet ${spec.target.statefulSet} records neither the source members the migration started from (annotation ${SOURCE_MEMBERS_ANNOTATION}) nor an --initial-cluster with old members in its pod template: finish this migration by hand`,
      );
  }
  return { refusals, warnings, replicas: sts.spec?.replicas ?? 1, ...(startedFrom ? { startedFrom } : {}) };
}

/** Targets made before SOURCE_MEMBERS_ANNOTATION: the old members of the template's --initial-cluster. */
export function startedFromTemplate(spec: MigrationSpec, sts: V1StatefulSet): ObservedMember[] | null {
  try {
    const initialCluster = flagValue(findEtcdContainer(sts.spec?.template.spec).container, 'initial-cluster');
    if (!initialCluster) return null;
    const members = JSON.parse(sourceMembersOf(spec, initialCluster)) as {
      name: string;
      peerURLs: string[];
    }[];
    return members.length > 0
      ? members.map(({ name, peerURLs }) => ({ name, peerURLs, isLearner: false }))
      : null;
  } catch {
    return null;
  }
}

/** etcd through the members this worker reaches (per-cluster: those of its own cluster). */
async function observeEtcd(deps: PreflightDeps, e: KubeEnv, spec: MigrationSpec): Promise<EtcdView> {
  try {
    const access = await etcdAccess(e, spec, { cluster: deps.cluster });
    return { observation: await withConnection(access, deps.secrets, observeCluster) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * One observation from the two sides': the member list of the later one (the target's), every
 * member's answer from the side that reached it, the alarms either saw.
 */
export function mergedViews(source: EtcdView, target: EtcdView): EtcdView {
  if (!('observation' in target)) {
    if ('observation' in source) return source;
    return { error: `source members: ${source.error}; target members: ${target.error}` };
  }
  if (!('observation' in source)) return target;
  const base = target.observation;
  const other = source.observation;
  const reached = new Set(base.endpoints.map((ep) => ep.name));
  const endpoints = [...base.endpoints, ...other.endpoints.filter((ep) => !reached.has(ep.name))];
  const answeredAs = new Set(endpoints.filter((ep) => ep.reachable).map((ep) => ep.status?.id));
  const alarms = [...base.alarms];
  for (const a of other.alarms)
    if (!alarms.some((b) => b.memberId === a.memberId && b.alarm === a.alarm)) alarms.push(a);
  return {
    observation: {
      ...base,
      endpoints,
      alarms,
      leaderId: base.leaderId ?? other.leaderId,
      unobservedMemberIds: base.unobservedMemberIds.filter((id) => !answeredAs.has(id)),
    },
  };
}

function resumeReport(
  spec: MigrationSpec,
  view: EtcdView,
  sourceReplicas: number | null,
  target: TargetSide,
): PreflightReport {
  if (!('observation' in view))
    return { ...NOTHING_OBSERVED, refusals: [`cannot observe etcd: ${view.error}`] };
  const obs = view.observation;
  const report: PreflightReport = {
    refusals: healthRefusals(obs),
    warnings: [],
    observed: { members: observedMembers(obs) },
    sourceReplicas: sourceReplicas ?? 0,
    evidence: toEvidence(spec, obs),
  };
  if (report.refusals.length > 0) return report;
  try {
    const resumed = planResume(spec, {
      members: report.observed.members,
      ...(target.startedFrom ? { startedFrom: target.startedFrom } : {}),
      sourceReplicas,
      targetReplicas: target.replicas,
    });
    const pending = resumed.plan.steps.find((s) => !s.adopted);
    return {
      ...report,
      observed: { members: resumed.members },
      warnings: [
        ...target.warnings,
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
