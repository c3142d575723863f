/**
 * The etcd-stretch worker: hosts the migration workflow and its activities.
 * Configuration from the environment: Temporal as the Temporal CLI reaches it (a profile of
 * temporal.toml, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY:
 * worker/temporal-connection.ts; default 127.0.0.1:7233), ETCD_STRETCH_TASK_QUEUE, KUBECONFIG
 * (one file or a list; the contexts named in specs),
 * ETCD_STRETCH_CLUSTER / ETCD_STRETCH_ACTIVITY_TASK_QUEUE (per-cluster mode, worker/worker-mode.ts),
 * LOG_LEVEL and ETCD_STRETCH_LOG_FORMAT (JSON lines on stdout by default), ETCD_STRETCH_METRICS_ADDRESS
 * (Prometheus /metrics, default 127.0.0.1:9464, `off` disables), ETCD_STRETCH_HEALTH_ADDRESS (the
 * probes /livez, /startupz, /readyz: worker/health-server.ts; default 127.0.0.1:9465, `off`),
 * ETCD_STRETCH_WORKFLOW_BUNDLE (a prebuilt workflow bundle: `npm run build` writes
 * dist/workflow-bundle.js; without it the workflows are bundled at start).
 * ETCD_STRETCH_PAYLOAD_KEY / _KEY_FILE / _KEY_ID (optional payload encryption, worker/payload-codec.ts).
 */
import os from 'node:os';
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
import { createHealthServer, healthAddress, listen, type WorkerProbes } from './health-server.js';
import { metricsAddress, migrationMetricsInterceptor, prometheusTelemetry } from './metrics.js';
import { pollersSeen, type PolledQueue } from './poller-check.js';
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

/** The workflow code: the prebuilt bundle if given, else the sources beside this file (.ts or compiled .js). */
function workflowSource(
  env: NodeJS.ProcessEnv = process.env,
): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const bundle = env.ETCD_STRETCH_WORKFLOW_BUNDLE;
  if (bundle) return { workflowBundle: { codePath: bundle } };
  return {
    workflowsPath: path.join(here, '..', 'workflows', `index${path.extname(fileURLToPath(import.meta.url))}`),
  };
}

/** The probes' server; a taken port is logged and costs the probes, not the worker. */
async function serveProbes(probes: WorkerProbes, logger: Logger) {
  const address = healthAddress();
  if (!address) return undefined;
  const server = createHealthServer(probes);
  try {
    const bound = await listen(server, address);
    return { server, url: `http://${address.host}:${bound.port}` };
  } catch (err) {
    logger.error(
      `no health probes: cannot serve them on ${address.host}:${address.port} (${(err as Error).message})`,
    );
    return undefined;
  }
}

export async function runWorker(): Promise<void> {
  const logger = createWorkerLogger();
  const metrics = installRuntime(logger, metricsAddress());
  const settings = temporalSettings();
  const mode = workerModeFromEnvironment(settings.taskQueue);
  // The SDK's default identity, set here so that readiness can find this process's pollers.
  const identity = `${process.pid}@${os.hostname()}`;
  const polled: PolledQueue[] = [{ taskQueue: mode.taskQueue, type: 'workflow' }];
  if (mode.mode === 'per-cluster') polled.push({ taskQueue: mode.activityTaskQueue, type: 'activity' });
  let workers: Worker[] = [];
  const running = () => workers.length > 0 && workers.every((w) => w.getState() === 'RUNNING');
  const probeConnection = Connection.lazy({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
    metadata: settings.metadata,
    connectTimeout: 5_000,
  });
  const health = await serveProbes(
    {
      started: () =>
        running()
          ? { ok: true, detail: `${workers.length} worker(s) running` }
          : { ok: false, detail: workers.length ? 'workers not running' : 'starting' },
      ready: async () =>
        running()
          ? probeConnection.withDeadline(Date.now() + 5_000, () =>
              pollersSeen(probeConnection, settings.namespace, identity, polled),
            )
          : { ok: false, detail: 'workers not running' },
    },
    logger,
  );
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
    identity,
    namespace: settings.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  };
  const workflows = workflowSource();
  const activityOptions = {
    activities,
    interceptors: { activity: [migrationMetricsInterceptor, changeOriginInterceptor] },
  };
  // per-cluster: the workflows on the shared workflow queue, the activities on this cluster's own.
  workers =
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
    health: health ? `${health.url}/livez /startupz /readyz` : 'off',
    workflows: 'workflowBundle' in workflows ? workflows.workflowBundle.codePath : 'bundled at start',
  });
  const gauges = metrics ? await migrationGauges(settings, dataConverter, logger) : undefined;
  // Returns after SIGINT/SIGTERM once running tasks finished or timed out, in every worker.
  try {
    await runWorkers(workers);
  } finally {
    health?.server.close();
    await gauges?.stop();
    await probeConnection.close();
    await connection.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runWorker().catch((err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
