/**
 * Where a scenario's workers run: one in this process; one as a supervised child process (a new
 * one replaces one that exits); or one per cluster, each in its cluster's network namespace, which
 * a chaos monitor can SIGKILL as the run enters chosen phases, restarting it right after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type ActivityInterceptorsFactory, type NativeConnection } from '@temporalio/worker';
import { kubeconfigPath, REPO_ROOT, type ClusterName } from '../../sandbox/config.js';
import { startClusterWorker, type ClusterWorker } from '../../sandbox/cluster-worker.js';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { PHASE_KEY } from '../../workflows/search-attributes.js';
import { workflowBundle } from './temporal-test-env.js';

export interface WorkerHost {
  run<T>(taskQueue: string, workflowId: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * `beforeStep`: awaited before each activity attempt, with the plan step the activity runs (a
 * fault injected at an exact point of the plan, however fast the steps go).
 */
export function inProcessWorkers(
  connection: NativeConnection,
  kubeconfig = kubeconfigPath(),
  beforeStep?: (stepId: string) => Promise<void>,
): WorkerHost {
  const atStep: ActivityInterceptorsFactory = () => ({
    inbound: {
      async execute(input, next) {
        const stepId = (input.args[0] as { stepId?: unknown } | undefined)?.stepId;
        if (typeof stepId === 'string') await beforeStep!(stepId);
        return next(input);
      },
    },
  });
  return {
    async run(taskQueue, _workflowId, fn) {
      const worker = await Worker.create({
        connection,
        taskQueue,
        workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
        activities: createMigrationActivities({ kubeconfig }),
        ...(beforeStep ? { interceptors: { activity: [atStep] } } : {}),
      });
      return worker.runUntil(fn);
    },
  };
}

export interface Kill {
  phase: string;
  at: string;
  pid: number;
  /** Per-cluster workers: whose worker it was. */
  cluster?: ClusterName;
}

export interface SupervisedWorkerOptions {
  /** Temporal frontend of the workers. */
  address: string;
  /** The worker's entry point (default `worker/main.ts`). */
  entry?: string;
  env?: Record<string, string>;
  /** Every worker process that exited, with its exit signal or code. */
  exits?: { at: string; pid: number; how: string }[];
}

/** Worker processes run as a process manager would: a worker that exits is replaced by a new one. */
export function supervisedWorkers(opts: SupervisedWorkerOptions): WorkerHost {
  let bundlePath: string | undefined;
  const start = (taskQueue: string): ChildProcess =>
    spawn(process.execPath, ['--import', 'tsx', opts.entry ?? path.join(REPO_ROOT, 'worker', 'main.ts')], {
      env: {
        ...process.env,
        ETCD_STRETCH_WORKFLOW_BUNDLE: bundlePath,
        TEMPORAL_ADDRESS: opts.address,
        KUBECONFIG: kubeconfigPath(),
        ETCD_STRETCH_TASK_QUEUE: taskQueue,
        LOG_LEVEL: 'WARN',
        ...opts.env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return {
    async run(taskQueue, workflowId, fn) {
      // Bundle the workflow code once: webpack in every restarted worker would starve etcd of CPU.
      const bundle = await workflowBundle();
      bundlePath = path.join(os.tmpdir(), `etcd-stretch-workflow-bundle-${process.pid}.js`);
      fs.writeFileSync(bundlePath, bundle.code);
      let stop = false;
      let worker: ChildProcess;
      const launch = () => {
        const child = start(taskQueue);
        worker = child;
        child.once('exit', (code, signal) => {
          opts.exits?.push({
            at: new Date().toISOString(),
            pid: child.pid ?? 0,
            how: signal ?? `exit ${code}`,
          });
          if (!stop && worker === child) launch();
        });
      };
      launch();
      try {
        return await fn();
      } finally {
        stop = true;
        worker!.kill('SIGTERM');
        fs.rmSync(bundlePath, { force: true });
      }
    },
  };
}

/** The phase of a running workflow, polled every 250 ms by the chaos monitors; undefined otherwise. */
async function runningPhase(client: Client, workflowId: string): Promise<string | undefined> {
  await new Promise((r) => setTimeout(r, 250));
  const d = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  return d?.status.name === 'RUNNING' ? d.typedSearchAttributes.get(PHASE_KEY) : undefined;
}

export interface PerClusterWorkerOptions {
  /** Temporal frontend on this host's loopback; each worker reaches it through its gateway. */
  address: string;
  /** The Kubernetes namespace of the migration: the workers' ServiceAccounts and RBAC go there. */
  namespace: string;
  env?: Record<string, string>;
  /** SIGKILL these workers as the workflow enters these phases, restarting each in its namespace. */
  killAt?: PerClusterKills;
}

export interface PerClusterKills {
  client: Client;
  /** The phases to kill in (each once, when the run enters it), or every phase the run enters. */
  phases: string[] | 'every';
  clusters: ClusterName[];
  kills: Kill[];
}

/**
 * One worker per cluster, each in a network namespace of its cluster with that cluster's
 * credentials only (sandbox/cluster-worker.ts). Both poll the workflow queue; each polls its own
 * cluster's activity queue, `<workflow queue>-<cluster>`, which `workersSpec` puts in the spec.
 */
export function perClusterWorkers(opts: PerClusterWorkerOptions): WorkerHost {
  return {
    async run(taskQueue, workflowId, fn) {
      const bundle = await workflowBundle();
      const bundlePath = path.join(os.tmpdir(), `etcd-stretch-workflow-bundle-${process.pid}.js`);
      fs.writeFileSync(bundlePath, bundle.code);
      const workers: ClusterWorker[] = [];
      let stop = false;
      let monitor: Promise<void> = Promise.resolve();
      try {
        for (const cluster of ['source', 'target'] as const) {
          workers.push(
            await startClusterWorker({
              cluster,
              temporalAddress: opts.address,
              taskQueue,
              namespace: opts.namespace,
              env: {
                ETCD_STRETCH_WORKFLOW_BUNDLE: bundlePath,
                ETCD_STRETCH_ACTIVITY_TASK_QUEUE: clusterQueue(taskQueue, cluster),
                ETCD_STRETCH_METRICS_ADDRESS: 'off',
                LOG_LEVEL: 'WARN',
                ...opts.env,
              },
            }),
          );
        }
        const chaos = opts.killAt;
        monitor = (async () => {
          let lastPhase: string | undefined;
          while (!stop && chaos) {
            const phase = await runningPhase(chaos.client, workflowId);
            if (!phase || phase === lastPhase) continue;
            lastPhase = phase;
            if (chaos.phases !== 'every' && !chaos.phases.includes(phase)) continue;
            for (const cluster of chaos.clusters) {
              const victim = workers.find((w) => w.cluster === cluster)!;
              chaos.kills.push({ phase, cluster, at: new Date().toISOString(), pid: victim.pid });
              victim.kill('SIGKILL');
              await victim.restart();
            }
          }
        })();
        return await fn();
      } finally {
        stop = true;
        await monitor;
        for (const w of workers) await w.stop();
        fs.rmSync(bundlePath, { force: true });
      }
    },
  };
}

/** The activity task queue of `cluster`'s worker for a run on `taskQueue`. */
export function clusterQueue(taskQueue: string, cluster: ClusterName): string {
  return `${taskQueue}-${cluster}`;
}

/** The spec's `workers` section for per-cluster workers serving a run on `taskQueue`. */
export function workersSpec(taskQueue: string): Record<string, unknown> {
  return {
    mode: 'per-cluster',
    source: { taskQueue: clusterQueue(taskQueue, 'source') },
    target: { taskQueue: clusterQueue(taskQueue, 'target') },
  };
}
