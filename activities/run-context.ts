/**
 * What a long-running step needs from the Temporal activity it runs in: heartbeats, the last
 * heartbeat of the previous attempt, and a sleep that ends with the activity's cancellation.
 * Outside an activity (tests, scripts, the CLI) heartbeats go to a caller's callback or nowhere,
 * and a sleep is a plain sleep.
 */
import { Context } from '@temporalio/activity';

export interface RunContext {
  heartbeat(details: unknown): void;
  /** Last heartbeat details of the previous attempt of this activity, if any. */
  previousHeartbeat?: unknown;
  /** A learner's applied-index lag behind the leader, in raft entries (the worker's gauge). */
  learnerLag?(member: string, entries: number): void;
}

export const LEARNER_LAG_METRIC = 'etcd_stretch_learner_lag_entries';

export const noopRunContext: RunContext = { heartbeat: () => undefined };

function currentActivityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // not running inside an activity
  }
}

/** The activity's context when there is one, otherwise `fallback` (default: no-op heartbeats). */
export function resolveRunContext(fallback: RunContext = noopRunContext): RunContext {
  const ctx = currentActivityContext();
  if (!ctx) return fallback;
  const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    previousHeartbeat: ctx.info.heartbeatDetails as unknown,
    learnerLag: (member, entries) =>
      ctx.metricMeter
        .createGauge(
          LEARNER_LAG_METRIC,
          'int',
          '1',
          "a learner's applied-index lag behind the leader (raft entries) while the run waits for it to catch up",
        )
        .set(entries, { member, workflow_id: workflowId }),
  };
}

/**
 * Sleeps `ms`. Inside an activity it rejects as soon as the activity is cancelled (with the
 * cancellation, so that it reaches Temporal unchanged); outside one it is a plain sleep.
 */
export function sleep(ms: number): Promise<void> {
  const signal = currentActivityContext()?.cancellationSignal;
  const cancelled = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('cancelled'));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(cancelled());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Calls `rc.heartbeat(details())` every `everyMs` until the returned stop function is called. */
export function heartbeatEvery(rc: RunContext, everyMs: number, details: () => unknown): () => void {
  const t = setInterval(() => rc.heartbeat(details()), everyMs);
  t.unref();
  return () => clearInterval(t);
}
