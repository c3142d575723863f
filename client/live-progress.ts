/**
 * What the status query cannot know: the progress a running step reports in its heartbeats
 * (a learner's catch-up percentage, which member is being defragmented) and its attempts so far.
 * Read from Temporal's description of the run (pending activities), not from the workflow.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

export interface RunningStep {
  activityType: string;
  attempt: number;
  lastFailure?: string;
  catchUp?: { member: string; percent: number; learnerApplied: number; leaderApplied: number };
  defragment?: { member?: string; elapsedMs?: number; doneMembers: number };
}

interface CatchUpBeat {
  member?: string;
  percent?: number;
  learnerApplied?: number;
  leaderApplied?: number;
}
interface DefragmentBeat {
  rollingDefragment?: { done?: string[] };
  detail?: { defragment?: string; elapsedMs?: number; finished?: string };
}

function decode(payloads: unknown): unknown {
  const list = (payloads as { payloads?: unknown[] } | null | undefined)?.payloads;
  if (!list?.length) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(list[list.length - 1] as never);
  } catch {
    return undefined;
  }
}

export function runningSteps(description: Pick<WorkflowExecutionDescription, 'raw'>): RunningStep[] {
  return (description.raw.pendingActivities ?? []).map((a) => {
    const step: RunningStep = {
      activityType: a.activityType?.name ?? '?',
      attempt: a.attempt ?? 1,
      ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
    };
    const beat = decode(a.heartbeatDetails) as (CatchUpBeat & DefragmentBeat) | undefined;
    if (beat && typeof beat.percent === 'number') {
      step.catchUp = {
        member: beat.member ?? '?',
        percent: beat.percent,
        learnerApplied: beat.learnerApplied ?? 0,
        leaderApplied: beat.leaderApplied ?? 0,
      };
    }
    if (beat?.rollingDefragment) {
      step.defragment = {
        member: beat.detail?.defragment,
        elapsedMs: beat.detail?.elapsedMs,
        doneMembers: beat.rollingDefragment.done?.length ?? 0,
      };
    }
    return step;
  });
}
