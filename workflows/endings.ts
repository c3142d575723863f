/**
 * How a run ends once its plan started: completed; stopped at a safe point by an abort after the
 * client switch; or, after a failure or an abort, rolled back before the switch (the saga's
 * undos, newest first) and failed without rollback after it.
 */
import { ApplicationFailure, CancellationScope, isCancellation, log, patched } from '@temporalio/workflow';
import type { Evidence } from '../core/activity-contract.js';
import { FailureType } from '../core/failure-types.js';
import { recordRunFinished } from './migration-metrics.js';
import { AbortRequested, failureMessage, now } from './migration-run.js';
import { WAIT_FOR_IN_FLIGHT_PATCH } from './patches.js';
import type { PhaseTiming } from './status.js';
import type { StepContext } from './steps/index.js';

export interface MigrationResult {
  outcome: 'completed' | 'aborted' | 'stopped';
  reason?: string;
  phases: PhaseTiming[];
  finalMembers: Evidence['members'];
  evidence: Evidence | null;
}

export async function complete({ run, acts, spec }: StepContext): Promise<MigrationResult> {
  run.finishPhases();
  run.status.workflowState = 'completed';
  run.status.step = null;
  const evidence = await acts.observe({ spec });
  run.recordEvidence(evidence);
  recordRunFinished('completed');
  return { outcome: 'completed', phases: run.status.phases, finalMembers: evidence.members, evidence };
}

/** An abort after the client switch: the run stops at a safe point, the new members serve. */
export async function stopAt({ run, acts, spec }: StepContext, where: string): Promise<MigrationResult> {
  const { status } = run;
  status.workflowState = 'stopped';
  status.step = null;
  run.finishPhases();
  const evidence = await acts.observe({ spec });
  run.recordEvidence(evidence);
  recordRunFinished('stopped');
  return {
    outcome: 'stopped',
    reason: `aborted by ${status.abort!.by} after the client switch (${status.abort!.reason}); stopped at a safe point ${where}; the new members serve the clients: finish later with a new run, or run a reverse migration to go back`,
    phases: status.phases,
    finalMembers: evidence.members,
    evidence,
  };
}

/** After a failure or an abort: roll back before the client switch, fail without rollback after it. */
export async function afterFailure(ctx: StepContext, err: unknown): Promise<MigrationResult> {
  const { run } = ctx;
  const { status } = run;
  const failed = run.progress.find((p) => p.state === 'running');
  if (failed) {
    failed.state = 'failed';
    failed.endedAt = now();
    failed.note = failureMessage(err);
  }
  // The activity an abort waited for may have failed rather than been cancelled: still an abort.
  const aborted =
    err instanceof AbortRequested ||
    (status.abort !== null && (isCancellation(err) || patched(WAIT_FOR_IN_FLIGHT_PATCH)));
  if (run.clientsSwitched) {
    throw run.fail(
      'failed',
      FailureType.FailedAfterSwitch,
      `failed after the client switch at ${failed?.id ?? '?'}: ${failed?.note ?? String(err)}; no rollback past the switch: the new members serve the clients; the steps still to do are the plan's pending ones in the status (a new run of the same spec cannot resume them yet)`,
    );
  }
  const reason = aborted
    ? `aborted by ${status.abort!.by}: ${status.abort!.reason}`
    : `step ${failed?.id ?? '?'} failed: ${failed?.note ?? String(err)}`;
  status.error = reason;
  await rollback(ctx, reason);
  run.finishPhases();
  if (aborted) {
    status.workflowState = 'aborted';
    recordRunFinished('aborted');
    return {
      outcome: 'aborted',
      reason,
      phases: status.phases,
      finalMembers: status.members,
      evidence: status.lastEvidence,
    };
  }
  status.workflowState = 'rolled-back';
  recordRunFinished('rolled-back');
  throw ApplicationFailure.nonRetryable(
    `${reason}; rolled back, the source is as it was`,
    FailureType.MigrationRolledBack,
  );
}

/** Runs every registered undo, newest first, even if the run was cancelled; then observes. */
async function rollback({ run, acts, spec }: StepContext, reason: string): Promise<void> {
  const { status, saga } = run;
  status.workflowState = 'rolling-back';
  const pending = saga.takeAll();
  status.compensations = pending.map((c) => ({ title: c.title, state: 'pending' }));
  log.warn('rolling back', { reason, compensations: pending.map((c) => c.title) });
  await CancellationScope.nonCancellable(async () => {
    for (const [i, c] of pending.entries()) {
      const record = status.compensations[i]!;
      try {
        record.startedAt = now();
        await c.run();
        record.endedAt = now();
        record.state = 'done';
      } catch (err) {
        record.state = 'failed';
        record.error = failureMessage(err);
        throw err;
      }
    }
    for (const p of run.progress)
      if (p.state === 'done' && saga.size === 0 && !run.clientsSwitched) p.state = 'undone';
    run.recordEvidence(await acts.observe({ spec }));
  });
}
