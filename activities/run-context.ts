/**
 * What a long-running etcd operation needs from its caller: a heartbeat, a
 * cancellation signal and the details of the previous attempt's last
 * heartbeat. Inside a Temporal activity these come from `Context.current()`;
 * outside one (tests, scripts) heartbeats go to an optional callback.
 */
import { Context } from '@temporalio/activity';

export interface RunContext {
  heartbeat(details: unknown): void;
  signal?: AbortSignal;
  /** Last heartbeat details of the previous attempt of this activity, if any. */
  previousHeartbeat?: unknown;
}

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
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    signal: ctx.cancellationSignal,
    previousHeartbeat: ctx.info.heartbeatDetails as unknown,
  };
}

/** Sleeps `ms`, rejecting early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('cancelled'));
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
