/**
 * Runs the process's Temporal workers together: until one stops, then all. SIGINT/SIGTERM reach
 * every running worker through the Runtime (its shutdownSignals call each worker's shutdown), so
 * each drains its running tasks; a worker that fails or stops on its own takes the others down
 * with it (a per-cluster worker that only half polls would look alive and do nothing).
 */
import type { State } from '@temporalio/worker';

export interface RunnableWorker {
  run(): Promise<void>;
  shutdown(): void;
  getState(): State;
}

/** Resolves once every worker stopped; rejects with the first failure after all have stopped. */
export async function runWorkers(workers: RunnableWorker[]): Promise<void> {
  const failures: unknown[] = [];
  const stopOthers = (self: RunnableWorker) => {
    for (const w of workers) if (w !== self && w.getState() === 'RUNNING') w.shutdown();
  };
  await Promise.all(
    workers.map(async (w) => {
      try {
        await w.run();
      } catch (err) {
        failures.push(err);
      } finally {
        stopOthers(w);
      }
    }),
  );
  if (failures.length) throw failures[0];
}
