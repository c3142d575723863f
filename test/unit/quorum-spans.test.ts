import { describe, expect, it } from 'vitest';
import { bothSidesSpans, crossingSpans, spanMs } from '../../bench/lib/quorum-spans.js';

const T0 = Date.parse('2026-12-07T06:00:00.000Z');
const step = (kind: string, endMs: number) => ({
  kind,
  startedAt: new Date(T0 + endMs - 100).toISOString(),
  endedAt: new Date(T0 + endMs).toISOString(),
});

describe('when the quorum needs both clusters', () => {
  it('3 -> 3: only while 2 + 2 vote, from the first removal to the last promote', () => {
    // Voters after each change: 3+1 (source alone holds 3 of 4: no), 3+2 (3 of 5: no),
    // promote in retire comes later; removals: 2+2 (both), 2+3 (target 3 of 5: no), 1+3, 0+3.
    const spans = bothSidesSpans(
      3,
      [
        step('add-learner', 1000),
        step('promote', 2000),
        step('promote', 4000),
        step('remove-member', 6000),
        step('promote', 7000),
        step('remove-member', 9000),
        step('remove-member', 11_000),
      ],
      T0 + 12_000,
    );
    expect(spans).toEqual([{ from: T0 + 6000, to: T0 + 7000 }]);
    expect(spanMs(spans)).toBe(1000);
  });

  it('1 -> 1 needs both sides from the promote to the removal', () => {
    const spans = bothSidesSpans(1, [step('promote', 2000), step('remove-member', 5000)], T0 + 6000);
    expect(spans).toEqual([{ from: T0 + 2000, to: T0 + 5000 }]);
  });

  it('a run that ends stretched is open to its end; steps that never ended do not count', () => {
    const spans = bothSidesSpans(
      1,
      [step('promote', 2000), { kind: 'remove-member', startedAt: new Date(T0 + 3000).toISOString() }],
      T0 + 8000,
    );
    expect(spans).toEqual([{ from: T0 + 2000, to: T0 + 8000 }]);
  });

  it("counts a change from when etcd applied it, not from its step's end", () => {
    const applied = (kind: string, appliedMs: number, endMs: number) => ({
      ...step(kind, endMs),
      appliedAt: new Date(T0 + appliedMs).toISOString(),
    });
    const spans = bothSidesSpans(
      1,
      [applied('promote', 1500, 2000), applied('remove-member', 4200, 5000)],
      T0 + 6000,
    );
    expect(spans).toEqual([{ from: T0 + 1500, to: T0 + 4200 }]);
  });
});

describe("when the leader's cluster is short of a majority", () => {
  it('3 -> 3: from the leader move to the first removal, the both-sides state inside', () => {
    const steps = [
      step('promote', 2000), // 3 + 1, leader on the source
      step('promote', 4000), // 3 + 2
      step('move-leader', 5000), // the leader's cluster holds 2 of 5
      step('promote', 7000), // 3 + 3
      step('remove-member', 9000), // 2 + 3: the target holds 3 of 5
      step('remove-member', 11_000),
      step('remove-member', 12_000),
    ];
    expect(crossingSpans(3, steps, T0 + 13_000)).toEqual([{ from: T0 + 5000, to: T0 + 9000 }]);
    expect(bothSidesSpans(3, steps, T0 + 13_000)).toEqual([{ from: T0 + 7000, to: T0 + 9000 }]);
  });

  it('none while the leader stays with the majority', () => {
    const steps = [step('promote', 2000), step('promote', 4000), step('promote', 6000)];
    expect(crossingSpans(3, steps, T0 + 8000)).toEqual([{ from: T0 + 6000, to: T0 + 8000 }]);
    expect(crossingSpans(3, steps.slice(0, 2), T0 + 8000)).toEqual([]);
  });
});
