/**
 * Where a scenario's worker runs: in this process, or as a child process that a chaos monitor
 * kills (SIGKILL) each time the workflow enters a new phase, starting a fresh one right after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { PHASE_KEY } from '../../workflows/search-attributes.js';
import { workflowBundle } from '../workflow/harness.js';

export interface WorkerHost {
  run<T>(taskQueue: string, workflowId: string, fn: () => Promise<T>): Promise<T>;
}

export function inProcessWorkers(connection: NativeConnection, kubeconfig = kubeconfigPath()): WorkerHost {
  return {
    async run(taskQueue, _workflowId, fn) {
      const worker = await Worker.create({
        connection,
        taskQueue,
        workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
        activities: createMigrationActivities({ kubeconfig }),
      });
      return worker.runUntil(fn);
    },
  };
}

export interface Kill {
  phase: string;
  at: string;
  pid: number;
}

export interface SupervisedWorkerOptions {
  /** Temporal frontend of the workers. */
  address: string;
  /** The worker's entry point (default `worker/main.ts`). */
  entry?: string;
  env?: Record<string, string>;
  /** Kill the worker (SIGKILL) each time the workflow enters a new phase, recording it here. */
  killAtPhaseChange?: { client: Client; kills: Kill[] };
  /** Every worker process that exited, with its exit signal or code. */
  exits?: { at: string; pid: number; how: string }[];
}

/**
 * Worker processes run as a process manager would: a worker that exits is replaced by a new
 * one. Optionally a chaos monitor SIGKILLs the worker at every phase change.
 */
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
      let lastPhase: string | undefined;
      const chaos = opts.killAtPhaseChange;
      const monitor = (async () => {
        while (!stop && chaos) {
          await new Promise((r) => setTimeout(r, 250));
          const d = await chaos.client.workflow
            .getHandle(workflowId)
            .describe()
            .catch(() => undefined);
          const phase = d?.typedSearchAttributes.get(PHASE_KEY);
          if (!d || d.status.name !== 'RUNNING' || !phase || phase === lastPhase) continue;
          lastPhase = phase;
          const victim = worker!;
          chaos.kills.push({ phase, at: new Date().toISOString(), pid: victim.pid ?? 0 });
          const exited = new Promise((r) => victim.once('exit', r));
          victim.kill('SIGKILL');
          await exited;
        }
      })();
      try {
        return await fn();
      } finally {
        stop = true;
        await monitor;
        worker!.kill('SIGTERM');
        fs.rmSync(bundlePath, { force: true });
      }
    },
  };
}

/** Worker processes (`worker/main.ts`), one killed with SIGKILL at every phase change. */
export function crashingWorkers(client: Client, address: string, kills: Kill[]): WorkerHost {
  return supervisedWorkers({ address, killAtPhaseChange: { client, kills } });
}
