import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitUntil } from '../../activities/kubernetes/pods.js';
import { noopRunContext } from '../../activities/run-context.js';

describe('waitUntil', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks every 100 ms for the first 2 s, then twice as long each time up to its interval', async () => {
    const asked: number[] = [];
    const started = Date.now();
    const done = waitUntil(noopRunContext, 'a pod to stop', 60_000, () => {
      asked.push(Date.now() - started);
      return Promise.resolve(asked.length === 25 ? 'stopped' : undefined);
    });
    await vi.runAllTimersAsync();
    await expect(done).resolves.toBe('stopped');
    const fast = Array.from({ length: 21 }, (_, i) => i * 100);
    expect(asked).toEqual([...fast, 2200, 2600, 3400, 4400]);
  });

  it('gives up before a wait would pass its deadline, naming what it waited for', async () => {
    const done = waitUntil(noopRunContext, 'a pod to stop', 1000, () => Promise.resolve(undefined));
    const failed = expect(done).rejects.toThrow('gave up waiting for a pod to stop after 1000 ms');
    await vi.runAllTimersAsync();
    await failed;
  });
});
