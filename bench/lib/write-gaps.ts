/**
 * Where the clients' longest write gaps fall (pure): the steady state before a migration against
 * the migration itself, and for each long gap the workflow steps it overlaps, so that a gap can be
 * explained (and removed) rather than hidden in a median.
 */
import type { Operation } from '../../test/helpers/load-client.js';
import { longestLag, type LagSample } from '../../test/helpers/event-loop-lag.js';

export interface TimedStep {
  id: string;
  startedAt?: string | null;
  endedAt?: string | null;
}

export interface PlacedGap {
  ms: number;
  from: string;
  to: string;
  /** The steps it overlaps; `(before the migration)`, `(after the migration)` or `(between steps)` otherwise. */
  during: string[];
  /** The write that ended the gap: how long it took, and why it needed more than one attempt. */
  closedBy?: { latencyMs: number; attempts: number; endpoint?: string; firstError?: string };
  /** Of the gap, the time no operation of the client was in flight (its turns between them). */
  idleMs: number;
  /** The load client's process: its longest timer delay during the gap (when measured). */
  loopLagMs?: number;
}

export interface LatencyPercentiles {
  puts: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WriteGaps {
  /** The longest gap that ended before the migration started (the load's steady state). */
  steadyMaxMs: number;
  /**
   * The longest gap of the steady state's last `windowMs`: as long as the migration, or all of
   * the steady state when it was shorter. The longest of many gaps is longer than the longest of
   * a few, so this compares the migration with as many steady-state writes. Absent in results
   * recorded before it.
   */
  steadyAsLong?: { windowMs: number; maxMs: number };
  /** The longest gap that overlaps the migration. */
  migrationMaxMs: number;
  /** Acknowledged writes' latency before, during and after the migration (by when each started). */
  latency: { steady: LatencyPercentiles; migration: LatencyPercentiles; after: LatencyPercentiles };
  /** The longest gaps of the whole run, longest first. */
  longest: PlacedGap[];
  /** The load client's process: its longest timer delay before and during the migration. */
  loopLag?: { steadyMaxMs: number; migrationMaxMs: number };
}

export interface MigrationWindow {
  from: number;
  to: number;
  steps?: TimedStep[];
}

interface Gap {
  a: number;
  b: number;
  /** The acknowledged write that ends it (none for the gap after the last one). */
  closer?: Operation;
}

/** Gaps between acknowledged writes, from the first operation's start to the last one's end. */
function gapsOf(history: Operation[]): Gap[] {
  if (!history.length) return [];
  const acked = history.filter((o) => o.type === 'put' && o.outcome === 'ok').sort((x, y) => x.end - y.end);
  const first = Math.min(...history.map((o) => o.start));
  const last = Math.max(...history.map((o) => o.end));
  const gaps: Gap[] = acked.map((closer, i) => ({ a: i ? acked[i - 1]!.end : first, b: closer.end, closer }));
  return [...gaps, { a: acked.at(-1)?.end ?? first, b: last }];
}

/** Nearest-rank percentiles of the operations' latencies (0 when there are none). */
export function percentiles(ops: Operation[]): LatencyPercentiles {
  const ms = ops.map((o) => o.end - o.start).sort((a, b) => a - b);
  const rank = (p: number) =>
    ms.length ? ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]! : 0;
  return { puts: ms.length, p50Ms: rank(50), p99Ms: rank(99) };
}

/** How much of [a, b] no operation covers. */
function idleIn(history: Operation[], a: number, b: number): number {
  const spans = history
    .filter((o) => o.start < b && o.end > a)
    .map((o) => [Math.max(a, o.start), Math.min(b, o.end)] as const)
    .sort((x, y) => x[0] - y[0]);
  let idle = 0;
  let at = a;
  for (const [from, to] of spans) {
    if (from > at) idle += from - at;
    at = Math.max(at, to);
  }
  return idle + Math.max(0, b - at);
}

const max = (list: Gap[]): number => list.reduce((m, g) => Math.max(m, g.b - g.a), 0);

/** `gaps` as gapsOf gives them: the first starts at the first operation's start. */
function steadyAsLong(gaps: Gap[], window: MigrationWindow): { windowMs: number; maxMs: number } {
  const first = gaps[0]?.a ?? window.from;
  const windowMs = Math.max(0, Math.min(window.to - window.from, window.from - first));
  const from = window.from - windowMs;
  return { windowMs, maxMs: max(gaps.filter((g) => g.b > from && g.b <= window.from)) };
}

export function writeGaps(
  history: Operation[],
  window: MigrationWindow,
  top = 3,
  lags?: LagSample[],
): WriteGaps {
  const gaps = gapsOf(history);
  const steps = (window.steps ?? []).flatMap((s) =>
    s.startedAt && s.endedAt ? [{ id: s.id, a: Date.parse(s.startedAt), b: Date.parse(s.endedAt) }] : [],
  );
  const place = ({ a, b, closer }: Gap): PlacedGap => {
    const overlapped = steps.filter((s) => s.a < b && s.b > a).map((s) => s.id);
    const during =
      b <= window.from
        ? ['(before the migration)']
        : a >= window.to
          ? ['(after the migration)']
          : overlapped.length
            ? overlapped
            : ['(between steps)'];
    return {
      ms: b - a,
      from: new Date(a).toISOString(),
      to: new Date(b).toISOString(),
      during,
      idleMs: idleIn(history, a, b),
      ...(lags ? { loopLagMs: longestLag(lags, a, b) } : {}),
      ...(closer
        ? {
            closedBy: {
              latencyMs: closer.end - closer.start,
              attempts: closer.attempts,
              ...(closer.endpoint ? { endpoint: closer.endpoint } : {}),
              ...(closer.firstError ? { firstError: closer.firstError } : {}),
            },
          }
        : {}),
    };
  };
  const puts = history.filter((o) => o.type === 'put' && o.outcome === 'ok');
  return {
    latency: {
      steady: percentiles(puts.filter((o) => o.start < window.from)),
      migration: percentiles(puts.filter((o) => o.start >= window.from && o.start < window.to)),
      after: percentiles(puts.filter((o) => o.start >= window.to)),
    },
    steadyMaxMs: max(gaps.filter((g) => g.b <= window.from)),
    steadyAsLong: steadyAsLong(gaps, window),
    migrationMaxMs: max(gaps.filter((g) => g.b > window.from && g.a < window.to)),
    longest: [...gaps]
      .sort((x, y) => y.b - y.a - (x.b - x.a))
      .slice(0, top)
      .map(place),
    ...(lags
      ? {
          loopLag: {
            steadyMaxMs: longestLag(lags, 0, window.from),
            migrationMaxMs: longestLag(lags, window.from, window.to),
          },
        }
      : {}),
  };
}
