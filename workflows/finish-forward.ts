/**
 * The way back started before the migration that made its source finished: that migration's old
 * members still vote (activities/migration/unfinished-forward.ts). It is finished first, as
 * `etcd-stretch start --resume <its spec>` would: a new run of its workflow ID, here a child run
 * on this run's task queue with its own plan, gates and audit. Temporal refuses the child while a
 * run of that ID is still open, so two runs never change the cluster at once.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ChildWorkflowFailure, executeChild, patched } from '@temporalio/workflow';
import type { UnfinishedForward } from '../core/activity-contract.js';
import { FailureType } from '../core/failure-types.js';
import type { MigrationResult } from './endings.js';
import { WORKFLOW_TYPE } from './messages.js';
import { now, type MigrationRun } from './migration-run.js';
import { FINISH_FORWARD_FIRST_PATCH } from './patches.js';

export async function finishForward(run: MigrationRun, forward: UnfinishedForward): Promise<void> {
  patched(FINISH_FORWARD_FIRST_PATCH);
  const waiting = {
    kind: 'forward' as const,
    workflowId: forward.workflowId,
    members: forward.members,
    since: now(),
  };
  const refuse = (why: string) =>
    run.fail(
      'refused',
      FailureType.PreflightRefused,
      `the migration that made the source has not finished (its old members ${forward.members.join(', ')} still vote) and ${why}; nothing of this migration was changed`,
      { forwardWorkflowId: forward.workflowId },
    );
  let result: MigrationResult;
  try {
    // As MigrationInput (migration-workflow.ts, not imported: it imports this file).
    const input = { spec: forward.spec, resume: true };
    result = await run.waitingOn(waiting, () =>
      executeChild<(i: typeof input) => Promise<MigrationResult>>(WORKFLOW_TYPE, {
        workflowId: forward.workflowId,
        args: [input],
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw refuse(
        `its run ${forward.workflowId} is still open: let it finish (or abort it), then start this again`,
      );
    const cause = err instanceof ChildWorkflowFailure && err.cause ? err.cause.message : String(err);
    throw refuse(`finishing it (run ${forward.workflowId}) failed: ${cause}`);
  }
  if (result.outcome !== 'completed')
    throw refuse(
      `finishing it (run ${forward.workflowId}) ended ${result.outcome}${result.reason ? `: ${result.reason}` : ''}`,
    );
}
