import { describe, expect, it } from 'vitest';
import { MembershipChangeRejected } from '../../activities/etcd/errors.js';
import { retryTransient } from '../../activities/etcd/guarded.js';
import { noopRunContext } from '../../activities/run-context.js';

describe('retrying a change etcd refuses for a while', () => {
  const opts = { deadlineMs: 5_000, rc: noopRunContext, pauseMs: 20, what: 'member add x' };

  it('says how long etcd refused it, from the first refusal to the success', async () => {
    let n = 0;
    const r = await retryTransient(opts, () => {
      if (++n < 3) return Promise.reject(new MembershipChangeRejected('etcdserver: unhealthy cluster'));
      return Promise.resolve('added');
    });
    expect(r).toMatchObject({ value: 'added', attempts: 3 });
    // Two pauses of 20 ms at least.
    expect(r.refusedMs).toBeGreaterThanOrEqual(40);
  });

  it('reports no wait when the first attempt passes', async () => {
    const r = await retryTransient(opts, () => Promise.resolve('added'));
    expect(r).toEqual({ value: 'added', attempts: 1, refusedMs: 0 });
  });
});
