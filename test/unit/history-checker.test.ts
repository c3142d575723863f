import { describe, expect, it } from 'vitest';
import { checkHistory } from '../helpers/history-checker.js';
import type { Operation } from '../helpers/load-client.js';

let t = 0;
const put = (seq: number, key: string, outcome: Operation['outcome'] = 'ok'): Operation => ({
  seq,
  type: 'put',
  key,
  value: `v${seq}`,
  start: t++,
  end: t++,
  outcome,
  attempts: 1,
});
const get = (seq: number, key: string, value: string | undefined): Operation => ({
  seq,
  type: 'get',
  key,
  value,
  start: t++,
  end: t++,
  outcome: 'ok',
  attempts: 1,
});

describe('history checker', () => {
  it('accepts a clean history', () => {
    const h = [put(1, 'a'), get(2, 'a', 'v1'), put(3, 'a'), get(4, 'a', 'v3')];
    expect(checkHistory(h, new Map([['a', 'v3']])).violations).toEqual([]);
  });
  it('finds a lost acknowledged write', () => {
    const h = [put(1, 'a'), put(3, 'a')];
    const r = checkHistory(h, new Map([['a', 'v1']]));
    expect(r.lostWrites).toBe(1);
  });
  it('accepts an indeterminate later write at the end', () => {
    const h = [put(1, 'a'), put(3, 'a', 'indeterminate')];
    expect(checkHistory(h, new Map([['a', 'v3']])).lostWrites).toBe(0);
  });
  it('finds stale, backwards and phantom reads', () => {
    const h = [
      put(1, 'a'),
      put(3, 'a'),
      get(4, 'a', 'v1'),
      get(6, 'a', 'v99'),
      put(7, 'b', 'failed'),
      get(8, 'b', 'v7'),
    ];
    const r = checkHistory(h, new Map([['a', 'v3']]));
    expect(r.staleReads).toBe(1);
    expect(r.phantomReads).toBe(2);
    const back = [put(1, 'a'), put(3, 'a', 'indeterminate'), get(4, 'a', 'v3'), get(5, 'a', 'v1')];
    expect(checkHistory(back, new Map([['a', 'v3']])).backwardsReads).toBe(1);
  });
});
