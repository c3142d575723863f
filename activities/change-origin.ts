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

const stepStorage = new AsyncLocalStorage<StepOfCall>();

/** Runs `fn` (an activity) with the plan step its input names (the worker's interceptor). */
export function withStepOf<T>(input: unknown, fn: () => T): T {
  const i = (typeof input === 'object' && input !== null ? input : {}) as StepOfCall;
  const step: StepOfCall = {
    ...(typeof i.stepId === 'string' ? { stepId: i.stepId } : {}),
    ...(typeof i.undoes === 'string' ? { undoes: i.undoes } : {}),
  };
  return stepStorage.run(step, fn);
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
    ...stepStorage.getStore(),
  };
}
