/**
 * The etcd-stretch worker: hosts the migration workflow and its activities.
 * Configuration from the environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE,
 * TEMPORAL_TLS_* / TEMPORAL_API_KEY, ETCD_STRETCH_TASK_QUEUE, KUBECONFIG (the contexts named in specs).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { Connection } from '@temporalio/client';
import { createMigrationActivities } from '../activities/migration/index.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/search-attributes.js';
import { temporalSettings } from './temporal-connection.js';
import { kubeconfigFromEnvironment } from '../activities/migration/kubeconfig.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Custom search attributes must exist in the namespace before a workflow upserts them. */
async function ensureSearchAttributes(
  address: string,
  namespace: string,
  tls: unknown,
  apiKey?: string,
): Promise<void> {
  const connection = await Connection.connect({ address, tls: tls as never, apiKey });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !(k.name in (existing.customAttributes ?? {})));
    if (missing.length) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */]),
        ),
      });
    }
  } catch (err) {
    // Temporal Cloud manages search attributes through its own API: say so and go on.
    process.stderr.write(
      `worker: could not register search attributes (${(err as Error).message}); register EtcdMigrationPhase, EtcdMigrationSource, EtcdMigrationTarget (Keyword) yourself\n`,
    );
  } finally {
    await connection.close();
  }
}

export async function runWorker(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger((process.env.LOG_LEVEL as 'INFO') ?? 'INFO') });
  const settings = temporalSettings();
  const kubeconfig = kubeconfigFromEnvironment();
  await ensureSearchAttributes(settings.address, settings.namespace, settings.tls, settings.apiKey);
  const connection = await NativeConnection.connect({
    address: settings.address,
    tls: settings.tls as never,
    apiKey: settings.apiKey,
  });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    // A prebuilt bundle (ETCD_STRETCH_WORKFLOW_BUNDLE) skips webpack at start-up.
    ...(process.env.ETCD_STRETCH_WORKFLOW_BUNDLE
      ? { workflowBundle: { codePath: process.env.ETCD_STRETCH_WORKFLOW_BUNDLE } }
      : { workflowsPath: path.join(here, '..', 'workflows', 'index.ts') }),
    activities: createMigrationActivities({ kubeconfig }),
  });
  process.stderr.write(
    `worker: ${settings.address} namespace ${settings.namespace} task queue ${settings.taskQueue}; kubeconfig ${kubeconfig}\n`,
  );
  // Worker.run() returns after SIGINT/SIGTERM once running activities finished or timed out.
  await worker.run();
  await connection.close();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runWorker().catch((err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
