/**
 * What a run spent in Temporal itself, from its history (pure): the workflow tasks (the
 * workflow's own turn between two steps) and the activities' dispatch and execution.
 */
import proto from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils.js';

const EventType = proto.temporal.api.enums.v1.EventType;

type HistoryEvent = NonNullable<History['events']>[number];

export interface TemporalTiming {
  workflowTasks: number;
  /** Summed over the workflow tasks: scheduled to started (waiting for the worker to poll it). */
  workflowTaskWaitMs: number;
  /** Summed over the workflow tasks: started to completed (the worker's turn and the server's). */
  workflowTaskRunMs: number;
  activities: number;
  /** Summed over the activities: scheduled to started. */
  activityDispatchMs: number;
  /** Summed over the activities: started to completed or failed. */
  activityRunMs: number;
}

function msOf(event: HistoryEvent): number {
  const t = event.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : 0;
}

export function temporalTiming(history: History): TemporalTiming {
  const timing: TemporalTiming = {
    workflowTasks: 0,
    workflowTaskWaitMs: 0,
    workflowTaskRunMs: 0,
    activities: 0,
    activityDispatchMs: 0,
    activityRunMs: 0,
  };
  const at = new Map<number, number>(); // event ID -> time
  for (const e of history.events ?? []) {
    const t = msOf(e);
    at.set(Number(e.eventId), t);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        timing.workflowTaskWaitMs +=
          t - (at.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId)) ?? t);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        timing.workflowTasks++;
        timing.workflowTaskRunMs +=
          t - (at.get(Number(e.workflowTaskCompletedEventAttributes?.startedEventId)) ?? t);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        timing.activityDispatchMs +=
          t - (at.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId)) ?? t);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const started =
          e.activityTaskCompletedEventAttributes?.startedEventId ??
          e.activityTaskFailedEventAttributes?.startedEventId;
        timing.activities++;
        timing.activityRunMs += t - (at.get(Number(started)) ?? t);
        break;
      }
    }
  }
  return timing;
}
