import { describe, expect, it } from 'vitest';
import { writeGaps } from '../../bench/lib/write-gaps.js';
import type { Operation } from '../../test/helpers/load-client.js';

const T0 = Date.parse('2026-12-07T06:00:00.000Z');
let seq = 0;
const put = (endMs: number, outcome: Operation['outcome'] = 'ok'): Operation => ({
  seq: seq++,
  type: 'put',
  key: `k${seq}`,
  start: T0 + endMs - 5,
  end: T0 + endMs,
  outcome,
  attempts: 1,
});
const at = (ms: number) => new Date(T0 + ms).toISOString();

describe('where the write gaps fall', () => {
  // Writes every 10 ms, except: 100 ms before the migration, 400 ms in step b, 580 ms from its end
  // on, 250 ms in no finished step, and a failed write inside the 400 ms gap (it does not end it).
  const history = [
    ...[10, 20, 30, 130, 140, 150].map((t) => put(t)),
    ...[1000, 1010, 1410, 1420].map((t) => put(t)),
    put(1200, 'failed'),
    ...[2000, 2250, 2260].map((t) => put(t)),
  ];
  const window = {
    from: T0 + 500,
    to: T0 + 3000,
    steps: [
      { id: 'shrink/a', startedAt: at(600), endedAt: at(1005) },
      { id: 'shrink/b', startedAt: at(1005), endedAt: at(1500) },
      { id: 'gate/x', startedAt: at(1500), endedAt: null },
    ],
  };

  it('tells the steady state from the migration', () => {
    const g = writeGaps(history, window);
    expect(g.steadyMaxMs).toBe(100);
    // 150 -> 1000 straddles the start: it counts for the migration.
    expect(g.migrationMaxMs).toBe(850);
  });

  it("compares the migration with the steady state's last stretch as long as it", () => {
    // Steady writes 0-3000 ms (a 300 ms gap early, 40 ms gaps late), migration 3000-3100 ms.
    const steady = [
      ...[10, 20, 320, 330].map((t) => put(t)),
      ...Array.from({ length: 60 }, (_, i) => put(600 + 40 * i)),
    ];
    const short = writeGaps(steady, { from: T0 + 3000, to: T0 + 3100 });
    expect(short.steadyMaxMs).toBe(300);
    expect(short.steadyAsLong).toEqual({ windowMs: 100, maxMs: 40 });
    // A migration longer than the steady state: all of it.
    const long = writeGaps(steady, { from: T0 + 3000, to: T0 + 9000 });
    expect(long.steadyAsLong).toEqual({ windowMs: 2995, maxMs: 300 });
  });

  it('names the steps each long gap overlaps', () => {
    const g = writeGaps(history, window, 4);
    expect(g.longest.map((x) => [x.ms, x.during])).toEqual([
      [850, ['shrink/a']],
      [580, ['shrink/b']],
      [400, ['shrink/b']],
      [250, ['(between steps)']],
    ]);
    expect(g.longest[2]).toMatchObject({ from: at(1010), to: at(1410) });
  });

  it('names the write that ended each gap and why it needed another attempt', () => {
    const retried: Operation = {
      ...put(2000),
      start: T0 + 980,
      attempts: 2,
      endpoint: 'http://b:2379',
      firstError: 'http://a:2379: deadline exceeded',
    };
    const g = writeGaps([put(0), put(960), retried, put(2010)], { from: T0 + 500, to: T0 + 3000 }, 1);
    expect(g.longest[0]).toMatchObject({
      ms: 1040,
      closedBy: {
        latencyMs: 1020,
        attempts: 2,
        endpoint: 'http://b:2379',
        firstError: 'http://a:2379: deadline exceeded',
      },
    });
  });

  it('places gaps before and after the migration as such', () => {
    const g = writeGaps([put(0), put(300), put(3100), put(3500)], { from: T0 + 1000, to: T0 + 3000 });
    expect(g.longest.map((x) => x.during[0])).toEqual([
      '(between steps)',
      '(after the migration)',
      '(before the migration)',
    ]);
  });

  it('gives the write latency before, during and after the migration', () => {
    // put(t) takes 5 ms; three slow writes of 50 ms during the migration.
    const slow = (endMs: number): Operation => ({ ...put(endMs), start: T0 + endMs - 50 });
    const g = writeGaps(
      [
        ...[10, 20, 30].map((t) => put(t)),
        ...Array.from({ length: 97 }, (_, i) => put(600 + i * 10)),
        slow(1600),
        slow(1700),
        slow(1800),
        put(3500),
        put(3600, 'failed'),
      ],
      { from: T0 + 500, to: T0 + 3000 },
    );
    expect(g.latency.steady).toEqual({ puts: 3, p50Ms: 5, p99Ms: 5 });
    expect(g.latency.migration).toEqual({ puts: 100, p50Ms: 5, p99Ms: 50 });
    // The failed write is not counted.
    expect(g.latency.after).toEqual({ puts: 1, p50Ms: 5, p99Ms: 5 });
  });

  it("splits a gap into the client's operations and its idle turns, with its process's timer delay", () => {
    // put 0 ends at 0; a get from 20 to 30; put 1 from 90 to 100: idle 20 + 60 = 80 of the 100.
    const get: Operation = {
      seq: seq++,
      type: 'get',
      key: 'k',
      start: T0 + 20,
      end: T0 + 30,
      outcome: 'ok',
      attempts: 1,
    };
    const slowTurn = { ...put(100), start: T0 + 90 };
    const lags = [
      { at: T0 + 85, ms: 50 },
      { at: T0 + 400, ms: 70 },
    ];
    const g = writeGaps([put(0), get, slowTurn, put(110)], { from: T0 + 50, to: T0 + 200 }, 1, lags);
    expect(g.longest[0]).toMatchObject({ ms: 100, idleMs: 80, loopLagMs: 50 });
    expect(g.loopLag).toEqual({ steadyMaxMs: 50, migrationMaxMs: 50 });
    expect(
      writeGaps([put(0), get, slowTurn], { from: T0 + 50, to: T0 + 200 }, 1).longest[0],
    ).not.toHaveProperty('loopLagMs');
  });
});
