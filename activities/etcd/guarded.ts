/**
 * "Observe, then ask the guard": every change calls `observeAndGuard` first and
 * gets a fresh observation plus the guard's verdict, or a typed refusal.
 */
import { evaluateChange, type ClusterChange, type GuardVerdict } from '../../core/safety-guard.js';
import type { EtcdConnection } from './connection.js';
import { guardRefusal, MembershipChangeRejected, EtcdUnavailable, messageOf } from './errors.js';
import { guardInputFrom, observeCluster } from './observe.js';
import { sleep, type RunContext } from '../run-context.js';
import type { ClusterObservation } from './types.js';

export interface Guarded {
  observation: ClusterObservation;
  verdict: GuardVerdict;
}

/**
 * `fresh`: an observation the caller took just before (nothing changed since), used instead of
 * observing again.
 */
export async function observeAndGuard(
  conn: EtcdConnection,
  change: ClusterChange,
  requiredFaultTolerance: number,
  fresh?: ClusterObservation,
): Promise<Guarded> {
  const observation = fresh ?? (await observeCluster(conn));
  const verdict = evaluateChange(guardInputFrom(observation, change, requiredFaultTolerance));
  if (!verdict.allowed) throw guardRefusal(verdict);
  return { observation, verdict };
}

/** Endpoint-map names of the voters that answered, healthy ones first. */
export function voterNames(obs: ClusterObservation, exceptId?: string): string[] {
  const voters = obs.endpoints.filter((e) => e.status && !e.status.isLearner && e.status.id !== exceptId);
  voters.sort((a, b) => Number(b.health?.healthy ?? false) - Number(a.health?.healthy ?? false));
  return voters.map((e) => e.name);
}

export interface RetryOptions {
  deadlineMs: number;
  rc: RunContext;
  /**
   * Pause between attempts (default 250 ms). etcd lifts its refusals at a moment of its own (a
   * voter connected for 5 s, a learner in sync), and a retry costs one small request.
   */
  pauseMs?: number;
  /** What is being retried, for heartbeats and the final error. */
  what: string;
}

/**
 * Retries `attempt` while it fails with a transient refusal (etcd's "unhealthy
 * cluster" after a voter change, an unreachable member, ...), until the deadline.
 * `refusedMs`: from the first refusal to the success (0 when the first attempt passed).
 * `attempt` must be idempotent: it is responsible for checking whether a
 * previous attempt already took effect.
 */
export async function retryTransient<T>(
  opts: RetryOptions,
  attempt: (n: number) => Promise<T>,
  isTransient: (err: unknown) => boolean = (err) =>
    err instanceof MembershipChangeRejected || err instanceof EtcdUnavailable,
): Promise<{ value: T; attempts: number; refusedMs: number }> {
  const until = Date.now() + opts.deadlineMs;
  let firstRefusal: number | undefined;
  for (let n = 1; ; n++) {
    try {
      const value = await attempt(n);
      return { value, attempts: n, refusedMs: firstRefusal === undefined ? 0 : Date.now() - firstRefusal };
    } catch (err) {
      const pauseMs = opts.pauseMs ?? 250;
      if (!isTransient(err) || Date.now() + pauseMs > until) throw err;
      firstRefusal ??= Date.now();
      opts.rc.heartbeat({ what: opts.what, attempt: n, lastError: messageOf(err).slice(0, 200) });
      await sleep(pauseMs);
    }
  }
}
