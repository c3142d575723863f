/**
 * worker/run-workers.ts: the process's Temporal workers stop together. Fakes with the
 * Worker's run/shutdown/getState contract (run resolves after shutdown, rejects on a failure);
 * the real workers and SIGTERM: test/workflow/per-cluster-worker.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { State } from '@temporalio/worker';
import { runWorkers, type RunnableWorker } from '../../worker/run-workers.js';

class FakeWorker implements RunnableWorker {
  private state: State = 'INITIALIZED';
  private settle?: { resolve: () => void; reject: (err: unknown) => void };
  shutdowns = 0;

  run(): Promise<void> {
    this.state = 'RUNNING';
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }
  shutdown(): void {
    if (this.state !== 'RUNNING') throw new Error(`Not running. Current state: ${this.state}`);
    this.shutdowns++;
    this.state = 'DRAINING';
    queueMicrotask(() => this.stop());
  }
  getState(): State {
    return this.state;
  }
  stop(): void {
    this.state = 'STOPPED';
    this.settle!.resolve();
  }
  fail(err: Error): void {
    this.state = 'FAILED';
    this.settle!.reject(err);
  }
}

describe('runWorkers', () => {
  it('stops the other worker when one fails, and rejects with that failure after both stopped', async () => {
    const workflows = new FakeWorker();
    const activities = new FakeWorker();
    const done = runWorkers([workflows, activities]);
    activities.fail(new Error('poller failed'));
    await expect(done).rejects.toThrow('poller failed');
    expect(workflows.shutdowns).toBe(1);
    expect(workflows.getState()).toBe('STOPPED');
  });

  it('stops the others when one stops on its own (no half-polling process)', async () => {
    const a = new FakeWorker();
    const b = new FakeWorker();
    const done = runWorkers([a, b]);
    a.shutdown();
    await expect(done).resolves.toBeUndefined();
    expect(b.shutdowns).toBe(1);
    expect(b.getState()).toBe('STOPPED');
  });

  it('resolves when a signal stopped every worker, shutting none down twice', async () => {
    const a = new FakeWorker();
    const b = new FakeWorker();
    const done = runWorkers([a, b]);
    // What the Runtime does on SIGTERM: each running worker's shutdown.
    a.shutdown();
    b.shutdown();
    await expect(done).resolves.toBeUndefined();
    expect([a.shutdowns, b.shutdowns]).toEqual([1, 1]);
  });

  it('runs a single worker as before', async () => {
    const only = new FakeWorker();
    const done = runWorkers([only]);
    only.shutdown();
    await expect(done).resolves.toBeUndefined();
  });
});
