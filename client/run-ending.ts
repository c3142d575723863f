/**
 * How a closed run ended, read from Temporal rather than from the workflow's status query: it
 * needs no worker (the query of a closed run replays its history on one), and a run that
 * Temporal terminated, cancelled or timed out has no final state of its own.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../core/failure-types.js';
import type { MigrationResult } from '../workflows/endings.js';
import type { RunEnding } from './exit-codes.js';

export interface ClosedRun {
  ending: RunEnding;
  /** The run's result (`reason`) or failure message. */
  message?: string;
}

/** `status` is Temporal's execution status name (`describe().status.name`); null while it runs. */
export async function closedRunEnding(handle: WorkflowHandle, status: string): Promise<ClosedRun | null> {
  switch (status) {
    case 'RUNNING':
      return null;
    case 'COMPLETED': {
      const result = (await handle.result()) as MigrationResult;
      return { ending: result.outcome, ...(result.reason ? { message: result.reason } : {}) };
    }
    case 'FAILED': {
      const cause = await handle.result().then(
        () => undefined,
        (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
      );
      const rolledBack =
        cause instanceof ApplicationFailure && cause.type === FailureType.MigrationRolledBack;
      return {
        ending: rolledBack ? 'rolled-back' : 'failed',
        ...(cause instanceof Error ? { message: cause.message } : {}),
      };
    }
    default:
      return {
        ending: 'terminated',
        message: `the run is ${status.toLowerCase().replace(/_/g, ' ')} in Temporal`,
      };
  }
}
