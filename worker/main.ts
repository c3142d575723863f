/**
 * The etcd-stretch worker: hosts the migration workflow and its activities.
 * Configuration from the environment: Temporal as the Temporal CLI reaches it (a profile of
 * temporal.toml, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY:
 * worker/temporal-connection.ts; default 127.0.0.1:7233), ETCD_STRETCH_TASK_QUEUE, KUBECONFIG
 * (one file or a list; the contexts named in specs),
 * ETCD_STRETCH_CLUSTER / ETCD_STRETCH_ACTIVITY_TASK_QUEUE (per-cluster mode, worker/worker-mode.ts),
 * LOG_LEVEL and ETCD_STRETCH_LOG_FORMAT (JSON lines on stdout by default), ETCD_STRETCH_METRICS_ADDRESS
 * (Prometheus /metrics, default 127.0.0.1:9464, `off` disables).
 * ETCD_STRETCH_PAYLOAD_KEY / _KEY_FILE / _KEY_ID (optional payload encryption, worker/payload-codec.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, Runtime, type Logger } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createMigrationActivities } from '../activities/migration/index.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/search-attributes.js';
import { temporalSettings, type TemporalSettings } from './temporal-connection.js';
import { dataConverterFromEnvironment } from './payload-codec.js';
import { changeOriginInterceptor } from '../activities/migration/change-origin-interceptor.js';
import { createWorkerLogger } from './json-logger.js';
import { exportMigrationGauges } from './migration-gauges.js';
import { metricsAddress, migrationMetricsInterceptor, prometheusTelemetry } from './metrics.js';
import { runWorkers } from './run-workers.js';
import { workerKubeconfig, workerModeFromEnvironment } from './worker-mode.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Custom search attributes must exist in the namespace before a workflow upserts them. */
async function ensureSearchAttributes(settings: TemporalSettings, logger: Logger): Promise<void> {
  const { address, namespace, tls, apiKey, metadata } = settings;
  const connection = await Connection.connect({ address, tls, apiKey, metadata });
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
    logger.warn(
      `could not register search attributes (${(err as Error).message}); register ${SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).join(', ')} (Keyword) yourself: a run whose upsert names one that is not registered stops at its workflow task`,
    );
  } finally {
    await connection.close();
  }
}

/** Returns the metrics address in use; a taken port costs the metrics, not the worker. */
function installRuntime(logger: Logger, metrics: string | undefined): string | undefined {
  if (metrics) {
    try {
      Runtime.install({ logger, telemetryOptions: prometheusTelemetry(metrics) });
      return metrics;
    } catch (err) {
      logger.error(`no metrics: cannot serve them on ${metrics} (${(err as Error).message})`);
    }
  }
  Runtime.install({ logger });
  return undefined;
}

/** The gauges of the migrations in progress (worker/migration-gauges.ts), on their own connection. */
async function migrationGauges(
  settings: ReturnType<typeof temporalSettings>,
  dataConverter: ReturnType<typeof dataConverterFromEnvironment>,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  const connection = await Connection.connect({
    address: settings.address,
    tls: settings.tls as never,
    apiKey: settings.apiKey,
  });
  const client = new Client({
    connection,
    namespace: settings.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  });
  let warned = false;
  const stopSampling = exportMigrationGauges(client, Runtime.instance().metricMeter, (err) => {
    if (!warned) logger.warn(`migration gauges: cannot list the migrations (${(err as Error).message})`);
    warned = true;
  });
  return {
    stop: async () => {
      stopSampling();
      await connection.close();
    },
  };
}

export async function runWorker(): Promise<void> {
  const logger = createWorkerLogger();
  const metrics = installRuntime(logger, metricsAddress());
  const settings = temporalSettings();
  const mode = workerModeFromEnvironment(settings.taskQueue);
  const kubeconfig = workerKubeconfig(mode);
  const cluster = mode.mode === 'per-cluster' ? mode.cluster : undefined;
  // Loads a per-cluster worker's kubeconfig now: a missing context fails the start, not a step.
  const activities = createMigrationActivities({ kubeconfig, cluster });
  // Optional payload encryption (ETCD_STRETCH_PAYLOAD_KEY[_FILE]); the CLI must hold the same key.
  const dataConverter = dataConverterFromEnvironment();
  await ensureSearchAttributes(settings, logger);
  const connection = await NativeConnection.connect({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
    metadata: settings.metadata,
  });
  const common = {
    connection,
    namespace: settings.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  };
  const workflows = {
    // A prebuilt bundle (ETCD_STRETCH_WORKFLOW_BUNDLE) skips webpack at start-up.
    ...(process.env.ETCD_STRETCH_WORKFLOW_BUNDLE
      ? { workflowBundle: { codePath: process.env.ETCD_STRETCH_WORKFLOW_BUNDLE } }
      : { workflowsPath: path.join(here, '..', 'workflows', 'index.ts') }),
  };
  const activityOptions = {
    activities,
    interceptors: { activity: [migrationMetricsInterceptor, changeOriginInterceptor] },
  };
  // per-cluster: the workflows on the shared workflow queue, the activities on this cluster's own.
  const workers =
    mode.mode === 'single'
      ? [await Worker.create({ ...common, taskQueue: mode.taskQueue, ...workflows, ...activityOptions })]
      : [
          await Worker.create({ ...common, taskQueue: mode.taskQueue, ...workflows }),
          await Worker.create({ ...common, taskQueue: mode.activityTaskQueue, ...activityOptions }),
        ];
  logger.info('worker ready', {
    address: settings.address,
    namespace: settings.namespace,
    mode: mode.mode,
    taskQueue: mode.taskQueue,
    ...(mode.mode === 'per-cluster'
      ? { cluster: mode.cluster, activityTaskQueue: mode.activityTaskQueue }
      : {}),
    kubeconfig: kubeconfig ?? "in-cluster (the Pod's ServiceAccount)",
    payloads: dataConverter ? 'encrypted' : 'plain',
    metrics: metrics ? `http://${metrics}/metrics` : 'off',
  });
  const gauges = metrics ? await migrationGauges(settings, dataConverter, logger) : undefined;
  // Returns after SIGINT/SIGTERM once running tasks finished or timed out, in every worker.
  try {
    await runWorkers(workers);
  } finally {
    await gauges?.stop();
    await connection.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runWorker().catch((err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
