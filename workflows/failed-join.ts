/**
 * A join that fails before the client switch (learner crashing, load balancer broken, catch-up
 * deadline) is undone on its own, and the run pauses: resume retries the join, abort rolls back.
 */
import { ApplicationFailure, CancellationScope, isCancellation, log, patched } from '@temporalio/workflow';
import { FailureType, FOREIGN_MEMBER_CONFLICTS } from '../core/failure-types.js';
import type { PlanStep } from '../core/planner/plan-types.js';
import { failureMessage, now } from './migration-run.js';
import { RETRY_FAILED_JOIN_PATCH } from './patches.js';
import { removeJoinedMember, stopJoinedMember, joinKey } from './steps/join-undo.js';
import type { StepContext } from './steps/index.js';

const JOIN_STEP_KINDS: ReadonlySet<PlanStep['kind']> = new Set([
  'add-learner',
  'scale-target',
  'await-catch-up',
  'promote',
]);

/** A refusal about someone else's member is not a failed join of ours: it rolls back instead. */
function isForeignConflict(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof ApplicationFailure && e.type && FOREIGN_MEMBER_CONFLICTS.has(e.type)) return true;
  return false;
}

/** The member whose join failed with `err` at `step`, when that join is to be undone and retried. */
export function retryableJoin(step: PlanStep, err: unknown, ctx: StepContext): string | undefined {
  const { run } = ctx;
  const retryable =
    JOIN_STEP_KINDS.has(step.kind) &&
    'member' in step &&
    !run.clientsSwitched &&
    run.status.abort === null &&
    !isCancellation(err) &&
    !isForeignConflict(err) &&
    patched(RETRY_FAILED_JOIN_PATCH);
  return retryable ? step.member : undefined;
}

/**
 * Undoes the join of `member` after one of its steps failed (remove it from etcd, stop its pod
 * and wipe its PVC), then pauses; returns the index of the join's first step to run again.
 */
export async function undoFailedJoin(
  ctx: StepContext,
  member: string,
  failedIndex: number,
  err: unknown,
): Promise<number> {
  const { run, plan, acts, spec, facts } = ctx;
  const { status } = run;
  const progress = run.progress;
  const first = plan.steps.findIndex((s) => s.kind === 'add-learner' && s.member === member);
  const failedStep = progress[failedIndex]!;
  const error = failureMessage(err);
  const why = `join of ${member} failed at ${failedStep.id}: ${error}`;
  log.warn('undoing a failed join', { member, step: failedStep.id, error });
  status.workflowState = 'rolling-back';
  run.publish();
  await CancellationScope.nonCancellable(async () => {
    await removeJoinedMember(ctx, member, facts.memberIds[member]);
    await stopJoinedMember(ctx, member, { keepHeadlessService: true });
    run.recordEvidence(await acts.observe({ spec }));
  }).catch((undoErr: unknown) => {
    throw ApplicationFailure.nonRetryable(
      `${why}; undoing the join failed: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}`,
      FailureType.JoinUndoFailed,
    );
  });
  failedStep.state = 'failed';
  failedStep.endedAt = now();
  failedStep.note = error;
  run.saga.takeFrom(joinKey(member));
  delete facts.memberIds[member];
  for (let i = first; i < failedIndex; i++) if (progress[i]!.state === 'done') progress[i]!.state = 'undone';
  status.workflowState = 'running';
  run.publish();
  status.notices.push(`${now()} ${why}; undone (member removed, pod stopped)`);
  status.paused = {
    by: 'etcd-stretch',
    reason: `${why}. The member was removed and its pod stopped; fix the cause, then resume to retry the join (or abort to roll back)`,
    at: now(),
  };
  return first;
}
