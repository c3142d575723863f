import { describe, expect, it } from 'vitest';
import { summarize, type Operation } from '../helpers/load-client.js';

const put = (start: number, end: number, outcome: Operation['outcome'] = 'ok'): Operation =>
  ({ type: 'put', key: `k${start}`, start, end, outcome }) as Operation;

describe('the load summary', () => {
  it('counts the longest gap between acknowledged writes', () => {
    const s = summarize([put(0, 10), put(10, 20), put(20, 500), put(500, 510)]);
    expect(s.maxWriteGapMs).toBe(480);
    expect(s.longestWriteGaps[0]).toEqual({ endedAt: new Date(500).toISOString(), gapMs: 480 });
  });

  it('counts an outage that lasts to the end of the run', () => {
    const s = summarize([put(0, 10), put(10, 20), put(20, 3000, 'failed'), put(3000, 9000, 'failed')]);
    expect(s.maxWriteGapMs).toBe(8980);
  });

  it('counts an outage from the start, and a run without any acknowledged write', () => {
    expect(summarize([put(0, 2000, 'failed'), put(2000, 2010)]).maxWriteGapMs).toBe(2010);
    expect(summarize([put(0, 700, 'failed')]).maxWriteGapMs).toBe(700);
    expect(summarize([]).maxWriteGapMs).toBe(0);
  });
});
