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

export function inProcessWorkers(connection: NativeConnection): WorkerHost {
  return {
    async run(taskQueue, _workflowId, fn) {
      const worker = await Worker.create({
        connection,
        taskQueue,
        workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
        activities: createMigrationActivities({ kubeconfig: kubeconfigPath() }),
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

/** Worker processes (`worker/main.ts`), one killed with SIGKILL at every phase change. */
export function crashingWorkers(client: Client, address: string, kills: Kill[]): WorkerHost {
  let bundlePath: string | undefined;
  const start = (taskQueue: string): ChildProcess =>
    spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'main.ts')], {
      env: {
        ...process.env,
        ETCD_STRETCH_WORKFLOW_BUNDLE: bundlePath,
        TEMPORAL_ADDRESS: address,
        KUBECONFIG: kubeconfigPath(),
        ETCD_STRETCH_TASK_QUEUE: taskQueue,
        LOG_LEVEL: 'WARN',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return {
    async run(taskQueue, workflowId, fn) {
      // Bundle the workflow code once: webpack in every restarted worker would starve etcd of CPU.
      const bundle = await workflowBundle();
      bundlePath = path.join(os.tmpdir(), `etcd-stretch-workflow-bundle-${process.pid}.js`);
      fs.writeFileSync(bundlePath, bundle.code);
      let worker = start(taskQueue);
      let stop = false;
      let lastPhase: string | undefined;
      const monitor = (async () => {
        while (!stop) {
          await new Promise((r) => setTimeout(r, 250));
          const d = await client.workflow
            .getHandle(workflowId)
            .describe()
            .catch(() => undefined);
          const phase = d?.typedSearchAttributes.get(PHASE_KEY);
          if (!d || d.status.name !== 'RUNNING' || !phase || phase === lastPhase) continue;
          lastPhase = phase;
          kills.push({ phase, at: new Date().toISOString(), pid: worker.pid ?? 0 });
          worker.kill('SIGKILL');
          await new Promise((r) => worker.once('exit', r));
          worker = start(taskQueue);
        }
      })();
      try {
        return await fn();
      } finally {
        stop = true;
        await monitor;
        worker.kill('SIGTERM');
        fs.rmSync(bundlePath, { force: true });
      }
    },
  };
}
