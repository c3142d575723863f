/**
 * The run context of activities/run-context.ts: inside an activity heartbeats reach Temporal and
 * a sleep ends as soon as the activity is cancelled; outside one a sleep is a plain sleep.
 */
import { describe, expect, it } from 'vitest';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { noopRunContext, resolveRunContext, sleep } from '../../activities/run-context.js';

describe('run context', () => {
  it('outside an activity: sleep waits the full time, heartbeats go to the fallback', async () => {
    const started = Date.now();
    await sleep(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(resolveRunContext()).toBe(noopRunContext);
    const fallback = { heartbeat: () => undefined };
    expect(resolveRunContext(fallback)).toBe(fallback);
  });

  it("inside an activity: heartbeats reach Temporal, with the previous attempt's last details", async () => {
    const env = new MockActivityEnvironment({ heartbeatDetails: { done: ['1'] } });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const previous = await env.run(async () => {
      const rc = resolveRunContext();
      rc.heartbeat({ step: 1 });
      return Promise.resolve(rc.previousHeartbeat);
    });
    expect(beats).toEqual([{ step: 1 }]);
    expect(previous).toEqual({ done: ['1'] });
  });

  it('inside an activity: sleep ends with the cancellation, not at its end', async () => {
    const env = new MockActivityEnvironment();
    const started = Date.now();
    const running = env.run(() => sleep(60_000));
    setTimeout(() => env.cancel(), 20);
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('inside an already cancelled activity: sleep rejects at once', async () => {
    const env = new MockActivityEnvironment();
    env.cancel();
    await expect(env.run(() => sleep(60_000))).rejects.toBeInstanceOf(CancelledFailure);
  });
});
