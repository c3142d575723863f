/** One Temporal dev server and one worker (real activities) for a whole suite: every run shares them. */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { kubeconfigPath } from '../../sandbox/config.js';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { changeOriginInterceptor } from '../../activities/migration/change-origin-interceptor.js';
import { migrationMetricsInterceptor } from '../../worker/metrics.js';
import { startTestEnvironment, workflowBundle } from '../../test/helpers/temporal-test-env.js';

export interface BenchTemporal {
  client: Client;
  taskQueue: string;
}

export async function withTemporalWorker<T>(fn: (t: BenchTemporal) => Promise<T>): Promise<T> {
  const env = await startTestEnvironment();
  try {
    const taskQueue = `bench-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createMigrationActivities({ kubeconfig: kubeconfigPath() }),
      // As the product's worker (worker/main.ts): metrics, and Events naming each plan step.
      interceptors: { activity: [migrationMetricsInterceptor, changeOriginInterceptor] },
    });
    return await worker.runUntil(fn({ client: env.client, taskQueue }));
  } finally {
    await env.teardown();
  }
}
