/** Where a stretch run's time goes, from the workflow's step timings (pure). */
import type { StepTiming, StretchRun } from './stretch-run.js';

export const UNAVOIDABLE_KINDS = new Set(['await-catch-up', 'await-load-balancers', 'soak']);
/** Steps that are mostly a pod starting (the StatefulSet controller and the node's kubelet). */
export const POD_START_KINDS = new Set(['scale-target']);
/**
 * The gate the benchmark holds while it moves its load client to the new voters (every other gate
 * is on auto): the clients' switch, which an operator does, not the orchestrator.
 */
export const CLIENT_SWITCH_STEP = 'gate/switch-clients';

export interface OverheadBreakdown {
  totalMs: number;
  unavoidableMs: number;
  /** The peer-link check's observation window of each promote: a deliberate wait, like the soak. */
  safetyWindowMs: number;
  /** What membership changes waited for etcd's own rules (as their results report it). */
  etcdRulesMs: number;
  /** Steps that start a pod (scale-target). */
  podStartMs: number;
  /** The switch-clients gate, held while the benchmark moved its load client. */
  clientSwitchMs: number;
  overheadMs: number;
  /** Time per step kind outside the unavoidable waits, plus the time between steps. */
  byKind: Record<string, number>;
}

/**
 * Each step's share of the run's wall time: its duration, except where steps ran at the same
 * time (PlanStep.together), where each instant is split between the steps running then. The
 * shares add up to the time covered by steps. Steps without an end time count in full.
 */
export function wallShares(steps: StepTiming[]): number[] {
  const spans = steps.map((s) => {
    const end = s.endedAt ? Date.parse(s.endedAt) : Number.NaN;
    return Number.isNaN(end) ? undefined : { start: end - s.ms, end };
  });
  const cuts = [...new Set(spans.flatMap((x) => (x ? [x.start, x.end] : [])))].sort((a, b) => a - b);
  const shares = steps.map((s, i) => (spans[i] ? 0 : s.ms));
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [from, to] = [cuts[k]!, cuts[k + 1]!];
    const running = spans.flatMap((x, i) => (x && x.start <= from && x.end >= to && to > from ? [i] : []));
    for (const i of running) shares[i]! += (to - from) / running.length;
  }
  return shares;
}

export function overheadOf(r: StretchRun): OverheadBreakdown {
  const byKind: Record<string, number> = {};
  let unavoidableMs = 0;
  let safetyWindowMs = 0;
  let etcdRulesMs = 0;
  let podStartMs = 0;
  let clientSwitchMs = 0;
  let inSteps = 0;
  const shares = wallShares(r.steps);
  r.steps.forEach((s, i) => {
    const ms = shares[i]!;
    inSteps += ms;
    const window = s.kind === 'promote' ? Math.min(ms, r.peerLinkWindowMs ?? 0) : 0;
    const etcd = Math.min(ms - window, s.etcdWaitMs ?? 0);
    safetyWindowMs += window;
    etcdRulesMs += etcd;
    if (UNAVOIDABLE_KINDS.has(s.kind)) unavoidableMs += ms;
    else if (POD_START_KINDS.has(s.kind)) podStartMs += ms;
    else if (s.id === CLIENT_SWITCH_STEP) clientSwitchMs += ms;
    else byKind[s.kind] = (byKind[s.kind] ?? 0) + ms - window - etcd;
  });
  byKind['(between steps: workflow tasks, start, result)'] = Math.max(0, r.durationMs - inSteps);
  return {
    totalMs: r.durationMs,
    unavoidableMs,
    safetyWindowMs,
    etcdRulesMs,
    podStartMs,
    clientSwitchMs,
    overheadMs: r.durationMs - unavoidableMs - safetyWindowMs - etcdRulesMs - podStartMs - clientSwitchMs,
    byKind,
  };
}

const MEMBERSHIP_PHASES = new Set(['join', 'leader', 'retire']);

/** Time spent in the membership phases (join, leader, retire) divided by the membership changes. */
export const msPerChange = (r: StretchRun): number =>
  r.membershipChanges
    ? r.steps
        .filter((s) => MEMBERSHIP_PHASES.has(s.phase) && s.kind !== 'gate')
        .reduce((a, s) => a + s.ms, 0) / r.membershipChanges
    : Number.NaN;
