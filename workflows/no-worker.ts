/**
 * A run started on queues no worker polls (from the Temporal CLI or Web UI, past the CLI's
 * check) would wait at preflight forever. Preflight is scheduled with `deadlines.workerPickup` as
 * its ScheduleToStart timeout (activity-options.ts); when that passes, the run fails here naming
 * the queue. Runs from before that timeout existed can never see it, so they replay unchanged.
 */
import { ActivityFailure, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../core/failure-types.js';
import type { Side } from '../core/planner/plan-types.js';
import { activityQueueNeed, noWorkerMessage } from '../core/routing/worker-needs.js';
import type { MigrationSpec } from '../core/spec/schema.js';
import type { MigrationRun } from './migration-run.js';

function noWorkerPickedUp(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/** Awaits the preflight of `side`; a preflight no worker picked up ends the run naming its queue. */
export async function pickedUp<T>(
  run: MigrationRun,
  spec: MigrationSpec,
  side: Side,
  preflight: Promise<T>,
): Promise<T> {
  try {
    return await preflight;
  } catch (err) {
    if (!noWorkerPickedUp(err)) throw err;
    const need = activityQueueNeed(spec, side, workflowInfo().taskQueue);
    throw run.fail(
      'no-worker',
      FailureType.NoWorker,
      `no worker picked up preflight within deadlines.workerPickup (${spec.deadlines.workerPickup}); nothing was changed: ${noWorkerMessage(need)}`,
      { taskQueue: need.queue },
    );
  }
}
