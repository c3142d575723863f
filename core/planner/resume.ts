/**
 * Resume: the plan of a migration an earlier run left part-way (failed after the client switch,
 * stopped by an abort past it, or killed), made from what the cluster shows now. Pure.
 *
 * The plan is the whole plan from the members the migration started from; every step up to the
 * first one whose outcome is what is observed now is marked `adopted` (done by an earlier run),
 * and only the rest runs. The observed state is the etcd membership (old and new voters, the new
 * learner: an unstarted member is known by its peer URL) and the replicas of both StatefulSets,
 * which together tell every membership step and every scale apart (a member added but not
 * started yet, a member removed whose pod still runs). Steps that change none of these (checks,
 * catch-up waits, the leader move, gates) are not adopted after the last observed change: they
 * run again, so every safety check before the next membership change is made again too.
 */
import type { MigrationSpec } from '../spec/schema.js';
import { PlanError, podOrdinal, targetPeerURL } from './members.js';
import { planMigration } from './plan.js';
import type { MigrationPlan, ObservedMember } from './plan-types.js';

export interface ResumeObservation {
  /** The etcd member list now; a member added but never started has no name. */
  members: ObservedMember[];
  /**
   * The source members the migration started from (recorded on the target StatefulSet when it
   * was created, `etcd-stretch.io/source-members`); absent: the observed source members.
   */
  startedFrom?: ObservedMember[];
  /** spec.replicas of the source StatefulSet; null: it does not exist (any more). */
  sourceReplicas: number | null;
  /** spec.replicas of the target StatefulSet; null: it does not exist (yet). */
  targetReplicas: number | null;
}

/** What the plan's steps change that can be observed, after a step. */
interface ObservedState {
  oldVoters: string[];
  newVoters: string[];
  newLearners: string[];
  sourceReplicas: number | null;
  targetReplicas: number | null;
}

export interface ResumePlan {
  plan: MigrationPlan;
  /** Steps done by an earlier run. */
  adopted: number;
  /** The members as observed, an unstarted one named by its peer URL. */
  members: ObservedMember[];
}

/** Throws PlanError when the observed state is not one the migration's plan passes through. */
export function planResume(spec: MigrationSpec, obs: ResumeObservation): ResumePlan {
  const members = obs.members.map((m) => ({ ...m, name: m.name || nameByPeerURL(spec, m) }));
  const now = observedState(spec, members, obs);
  const startedFrom = obs.startedFrom ?? members.filter((m) => sideOf(spec, m.name) === 'old');
  const plan = planMigration({ spec, observed: { members: startedFrom } });
  const states = statesAfterEachStep(plan, startedFrom.length);
  const reached = states.findIndex((s) => sameState(s, now));
  if (reached === -1) {
    throw new PlanError(
      `the cluster is in a state the plan of this migration does not pass through: ${describe(now)}; ` +
        `the plan starts from ${startedFrom.map((m) => m.name).join(', ')}`,
    );
  }
  // states[0] is before the first step: nothing to adopt.
  const adopted = reached;
  const steps = plan.steps.map((step, i) => (i < adopted ? { ...step, adopted: true as const } : step));
  return { plan: { ...plan, steps }, adopted, members };
}

function sideOf(spec: MigrationSpec, name: string): 'old' | 'new' | undefined {
  if (podOrdinal(spec.source.statefulSet, name) !== undefined) return 'old';
  if (podOrdinal(spec.target.statefulSet, name) !== undefined) return 'new';
  return undefined;
}

/** A new member that was added but never started: its name from its peer URL. */
function nameByPeerURL(spec: MigrationSpec, member: ObservedMember): string {
  const url = member.peerURLs[0] ?? '';
  const match = /^https?:\/\/([^.:/]+)\./.exec(url);
  const name = match?.[1];
  if (name && sideOf(spec, name) === 'new' && targetPeerURL(spec, name) === url) return name;
  throw new PlanError(
    `member ${member.id ?? '?'} (peer URLs ${member.peerURLs.join(', ') || 'none'}) was added but never started, and is not a member this migration adds: remove it first`,
  );
}

function observedState(
  spec: MigrationSpec,
  members: readonly ObservedMember[],
  obs: ResumeObservation,
): ObservedState {
  const state: ObservedState = {
    oldVoters: [],
    newVoters: [],
    newLearners: [],
    sourceReplicas: obs.sourceReplicas,
    targetReplicas: obs.targetReplicas,
  };
  for (const m of members) {
    const side = sideOf(spec, m.name);
    if (side === undefined) {
      throw new PlanError(
        `member ${m.name} is a pod of neither ${spec.source.statefulSet} nor ${spec.target.statefulSet}: not a member of this migration`,
      );
    }
    if (side === 'old' && m.isLearner)
      throw new PlanError(`member ${m.name} of the source is a learner: this migration never makes one`);
    if (side === 'old') state.oldVoters.push(m.name);
    else if (m.isLearner) state.newLearners.push(m.name);
    else state.newVoters.push(m.name);
  }
  return normalised(state);
}

/** The observable state before the first step (index 0) and after each step (index i + 1). */
function statesAfterEachStep(plan: MigrationPlan, n: number): ObservedState[] {
  let state: ObservedState = {
    oldVoters: plan.source.members.map((m) => m.name),
    newVoters: [],
    newLearners: [],
    sourceReplicas: n,
    targetReplicas: null,
  };
  const states = [normalised(state)];
  for (const step of plan.steps) {
    state = {
      oldVoters: step.after.voters.old,
      newVoters: step.after.voters.new,
      newLearners: step.after.learners.new,
      sourceReplicas:
        step.kind === 'scale-source'
          ? step.replicas
          : step.kind === 'cleanup-source-statefulset'
            ? null
            : state.sourceReplicas,
      targetReplicas: step.kind === 'scale-target' ? step.replicas : state.targetReplicas,
    };
    states.push(normalised(state));
  }
  return states;
}

function normalised(s: ObservedState): ObservedState {
  return {
    ...s,
    oldVoters: [...s.oldVoters].sort(),
    newVoters: [...s.newVoters].sort(),
    newLearners: [...s.newLearners].sort(),
  };
}

function sameState(a: ObservedState, b: ObservedState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describe(s: ObservedState): string {
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  const replicas = (r: number | null) => (r === null ? 'absent' : `${r} replicas`);
  return `old voters ${list(s.oldVoters)}, new voters ${list(s.newVoters)}, learners ${list(s.newLearners)}, source StatefulSet ${replicas(s.sourceReplicas)}, target StatefulSet ${replicas(s.targetReplicas)}`;
}
