/**
 * A worker that sees one cluster only, as a worker deployed in that cluster would: it runs in the
 * network namespace `es-w-<cluster>` on the cluster's pod bridge, reaches that cluster's API
 * server (through the node agent's gateway forwarder) with that cluster's ServiceAccount token
 * only, the Temporal server through a forwarder on the same gateway, its cluster's pods, and the
 * other cluster's load balancers; it resolves names as a pod in its Kubernetes namespace does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LAYOUTS, REPO_ROOT, clusterDir, type ClusterName } from './config.js';
import { forwardOnGateway, type GatewayForwarder } from './gateway-forwarder.js';
import { isAlive, startDaemon, stopDaemon, tailFile, waitFor } from './processes.js';
import { attachRegisteredNetns, detachRegisteredNetns, netnsInode } from './registered-netns.js';
import { grantClusterWorker } from './worker-credentials.js';
import { WORKER_NAME, workerDir, workerHostVeth, workerIp, workerNetns } from './worker-netns.js';

const DAEMON = 'etcd-stretch-worker';
/** What the worker inherits from this process: nothing that names a cluster or a credential. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

export interface ClusterWorkerOptions {
  cluster: ClusterName;
  /** The Temporal frontend on this host's loopback, `127.0.0.1:<port>`. */
  temporalAddress: string;
  taskQueue?: string;
  /** The worker's Kubernetes namespace: its ServiceAccount and RBAC (deploy/rbac-<cluster>.yaml) live there. */
  namespace?: string;
  /** More environment (payload keys, log level, a workflow bundle...). */
  env?: Record<string, string>;
  /** Run by `node --import tsx` (default `worker/main.ts`). */
  entry?: string;
}

export interface ClusterWorker {
  cluster: ClusterName;
  netns: string;
  ip: string;
  namespace: string;
  /** The only kubeconfig the worker gets: one context, named after the cluster. */
  kubeconfig: string;
  /** TEMPORAL_ADDRESS as the worker sees it. */
  temporalAddress: string;
  /** Stdout and stderr of every process this handle started, appended. */
  logFile: string;
  /** The current process (a new one after restart()). */
  readonly pid: number;
  kill(signal?: NodeJS.Signals): void;
  /** Starts the same command again in the same namespace, after stopping the current process if it still runs. */
  restart(): Promise<void>;
  /** Stops the process and removes the forwarder, the namespace and the credentials file. */
  stop(): Promise<void>;
}

const running = new Map<ClusterName, ClusterWorker>();

/** The worker's namespace on the cluster bridge, once the node agent has written its hosts file. */
async function attachWorkerNetwork(cluster: ClusterName, namespace: string): Promise<{ netnsId: string }> {
  const netns = workerNetns(cluster);
  const ip = workerIp(LAYOUTS[cluster]);
  await attachRegisteredNetns(
    cluster,
    { netns, ip, namespace, hostname: WORKER_NAME },
    workerHostVeth(cluster),
  );
  return { netnsId: netnsInode(netns) };
}

export async function startClusterWorker(opts: ClusterWorkerOptions): Promise<ClusterWorker> {
  const { cluster } = opts;
  await running.get(cluster)?.stop();
  const layout = LAYOUTS[cluster];
  const dir = clusterDir(cluster);
  const netns = workerNetns(cluster);
  const namespace = opts.namespace ?? 'etcd-stretch';
  const kubeconfig = path.join(workerDir(dir), 'kubeconfig');
  let forwarder: GatewayForwarder | undefined;
  const teardown = async () => {
    await stopDaemon(dir, DAEMON, 5000);
    await forwarder?.close();
    forwarder = undefined;
    await detachRegisteredNetns(cluster, netns);
    fs.rmSync(kubeconfig, { force: true });
  };
  // Also what an earlier caller that crashed left behind.
  await teardown();
  try {
    await grantClusterWorker(cluster, namespace, kubeconfig);
    const { netnsId } = await attachWorkerNetwork(cluster, namespace);
    const [temporalHost, temporalPort] = splitAddress(opts.temporalAddress);
    forwarder = await forwardOnGateway(layout, temporalPort, { host: temporalHost, port: temporalPort });
    const temporalAddress = `${forwarder.address}:${forwarder.port}`;
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(INHERITED_ENV.filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
      NODE_NO_WARNINGS: '1',
      ...opts.env,
      TEMPORAL_ADDRESS: temporalAddress,
      KUBECONFIG: kubeconfig,
      ETCD_STRETCH_CLUSTER: cluster,
      ...(opts.taskQueue ? { ETCD_STRETCH_TASK_QUEUE: opts.taskQueue } : {}),
    };
    const entry = path.resolve(REPO_ROOT, opts.entry ?? path.join('worker', 'main.ts'));
    const argv = ['netns', 'exec', netns, process.execPath, '--import', 'tsx', entry];
    // Returns once the process runs in the namespace (`ip netns exec` enters it, then execs node).
    const launch = async () => {
      const d = startDaemon(DAEMON, 'ip', argv, dir, env);
      await waitFor(
        `${cluster}: the worker process in ${netns}`,
        async () => {
          if (!isAlive(d.pid)) throw new Error(`exited:\n${tailFile(d.logFile)}`);
          return (await fs.promises.readlink(`/proc/${d.pid}/ns/net`).catch(() => '')) === netnsId;
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      return d;
    };
    let daemon = await launch();
    const handle: ClusterWorker = {
      cluster,
      netns,
      ip: workerIp(layout),
      namespace,
      kubeconfig,
      temporalAddress,
      logFile: daemon.logFile,
      get pid() {
        return daemon.pid;
      },
      kill(signal = 'SIGTERM') {
        if (isAlive(daemon.pid)) process.kill(daemon.pid, signal);
      },
      async restart() {
        await stopDaemon(dir, DAEMON, 5000);
        daemon = await launch();
      },
      async stop() {
        if (running.get(cluster) === handle) running.delete(cluster);
        await teardown();
      },
    };
    running.set(cluster, handle);
    return handle;
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** Stops the workers this process started (sandboxDown: their forwarders live here). */
export async function stopClusterWorkers(): Promise<void> {
  for (const w of [...running.values()]) await w.stop();
}

/** Kills a worker whatever process started it, from its pid file. */
export async function stopClusterWorkerProcess(cluster: ClusterName): Promise<void> {
  await stopDaemon(clusterDir(cluster), DAEMON, 5000);
}

function splitAddress(address: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw new Error(`temporalAddress ${address}: expected host:port`);
  return [m[1]!.replace(/^\[|\]$/g, ''), Number(m[2])];
}
