/** Where a stretch run's time goes, from the workflow's step timings (pure). */
import type { StretchRun } from './stretch-run.js';

export const UNAVOIDABLE_KINDS = new Set(['await-catch-up', 'await-load-balancers', 'soak']);
/** Steps that are mostly a pod starting (the StatefulSet controller and the node's kubelet). */
export const POD_START_KINDS = new Set(['scale-target']);

export interface OverheadBreakdown {
  totalMs: number;
  unavoidableMs: number;
  /** The peer-link check's observation window of each promote: a deliberate wait, like the soak. */
  safetyWindowMs: number;
  /** What membership changes waited for etcd's own rules (as their results report it). */
  etcdRulesMs: number;
  /** Steps that start a pod (scale-target). */
  podStartMs: number;
  overheadMs: number;
  /** Time per step kind outside the unavoidable waits, plus the time between steps. */
  byKind: Record<string, number>;
}

export function overheadOf(r: StretchRun): OverheadBreakdown {
  const byKind: Record<string, number> = {};
  let unavoidableMs = 0;
  let safetyWindowMs = 0;
  let etcdRulesMs = 0;
  let podStartMs = 0;
  let inSteps = 0;
  for (const s of r.steps) {
    inSteps += s.ms;
    const window = s.kind === 'promote' ? Math.min(s.ms, r.peerLinkWindowMs ?? 0) : 0;
    const etcd = Math.min(s.ms - window, s.etcdWaitMs ?? 0);
    safetyWindowMs += window;
    etcdRulesMs += etcd;
    if (UNAVOIDABLE_KINDS.has(s.kind)) unavoidableMs += s.ms;
    else if (POD_START_KINDS.has(s.kind)) podStartMs += s.ms;
    else byKind[s.kind] = (byKind[s.kind] ?? 0) + s.ms - window - etcd;
  }
  byKind['(between steps: workflow tasks, start, result)'] = Math.max(0, r.durationMs - inSteps);
  return {
    totalMs: r.durationMs,
    unavoidableMs,
    safetyWindowMs,
    etcdRulesMs,
    podStartMs,
    overheadMs: r.durationMs - unavoidableMs - safetyWindowMs - etcdRulesMs - podStartMs,
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
