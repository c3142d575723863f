/**
 * `start`: a run under the workflow ID derived from the spec (core/workflow-id.ts), refused
 * while a run of that ID is open, so the same StatefulSet is never moved by two runs at once. A
 * run that ended (completed, rolled back, aborted, failed) does not block a new one: Temporal
 * keeps its history under the same ID with its own run ID.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../workflows/messages.js';
import type { etcdMigration } from '../workflows/migration-workflow.js';

export class AlreadyRunning extends Error {}

export interface StartedRun {
  workflowId: string;
  runId: string;
}

/** Why a second start is refused: the open run's ID and how to follow or stop it. */
export function alreadyRunningMessage(workflowId: string, runId?: string): string {
  return [
    `not started: migration ${workflowId} is already running${runId ? ` (run ${runId})` : ''}.`,
    `Watch it:  etcd-stretch watch ${workflowId}`,
    `Stop it:   etcd-stretch abort ${workflowId} --reason "<why>"; a new start is accepted once it has ended.`,
  ].join('\n');
}

async function openRunOf(client: Client, workflowId: string): Promise<string | undefined> {
  const description = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  return description?.status.name === 'RUNNING' ? description.runId : undefined;
}

export async function startMigrationRun(
  client: Client,
  opts: {
    workflowId: string;
    taskQueue: string;
    input: Parameters<typeof etcdMigration>[0];
    /** Runs once the ID is known to be free, before the start (the worker check). */
    beforeStart?: () => Promise<void>;
  },
): Promise<StartedRun> {
  const open = await openRunOf(client, opts.workflowId);
  if (open) throw new AlreadyRunning(alreadyRunningMessage(opts.workflowId, open));
  await opts.beforeStart?.();
  try {
    const handle = await client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue: opts.taskQueue,
      workflowId: opts.workflowId,
      // Refuse while a run of this ID is open; a closed run, whatever its ending, does not block.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      args: [opts.input],
    });
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    // Another start won the race between the check above and this one.
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new AlreadyRunning(
        alreadyRunningMessage(opts.workflowId, await openRunOf(client, opts.workflowId)),
      );
    throw err;
  }
}
