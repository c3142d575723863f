/**
 * Who makes a change: the workflow and the plan step of the activity running now, so that what
 * it changes in Kubernetes can say so (activities/kubernetes/change-events.ts). Undefined outside
 * an activity (tests, scripts, the CLI).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';

export interface ChangeOrigin {
  workflowId: string;
  runId: string;
  activityType: string;
  attempt: number;
  /** The plan step the activity runs (`SpecInput.stepId`), or the one an undo reverses. */
  stepId?: string;
  undoes?: string;
}

interface StepOfCall {
  stepId?: string;
  undoes?: string;
}

interface ActivityScope {
  step: StepOfCall;
  /** Records of changes (Events) still being written: the activity ends after them. */
  records: Promise<unknown>[];
}

const scopeStorage = new AsyncLocalStorage<ActivityScope>();

/**
 * Runs `fn` (an activity) with the plan step its input names (the worker's interceptor), and
 * ends once the records its changes left (`recordAside`) are written too, whether it failed or not.
 */
export async function withStepOf<T>(input: unknown, fn: () => Promise<T>): Promise<T> {
  const i = (typeof input === 'object' && input !== null ? input : {}) as StepOfCall;
  const scope: ActivityScope = {
    step: {
      ...(typeof i.stepId === 'string' ? { stepId: i.stepId } : {}),
      ...(typeof i.undoes === 'string' ? { undoes: i.undoes } : {}),
    },
    records: [],
  };
  return scopeStorage.run(scope, async () => {
    try {
      return await fn();
    } finally {
      await Promise.allSettled(scope.records);
    }
  });
}

/**
 * Writes a record of a change (`write` never fails) beside the activity's next steps when it
 * runs under `withStepOf`, which waits for it at the end; otherwise now.
 */
export async function recordAside(write: () => Promise<void>): Promise<void> {
  const scope = scopeStorage.getStore();
  if (!scope) return write();
  scope.records.push(write());
}

export function currentChangeOrigin(): ChangeOrigin | undefined {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return undefined; // not in an activity
  }
  const { workflowExecution, activityType, attempt } = ctx.info;
  if (!workflowExecution) return undefined;
  return {
    workflowId: workflowExecution.workflowId,
    runId: workflowExecution.runId,
    activityType,
    attempt,
    ...scopeStorage.getStore()?.step,
  };
}
