/**
 * A worker process for fault runs: the real worker, except that right after an etcd membership
 * change has been made (add learner, promote, remove member) and before the activity reports it,
 * the process kills itself (SIGKILL), once per kind of change. The marker directory
 * (ETCD_STRETCH_CRASH_MARKERS) remembers which kinds already crashed across restarts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { createMigrationActivities } from '../../activities/migration/index.js';
import type { MigrationActivities } from '../../core/activity-contract.js';

const CRASH_AFTER = ['addLearner', 'promote', 'removeMember'] as const;

function crashOnceAfter(activities: MigrationActivities, markers: string): MigrationActivities {
  const wrapped = { ...activities } as Record<string, (...args: never[]) => Promise<unknown>>;
  for (const name of CRASH_AFTER) {
    const original = activities[name].bind(activities) as (...args: never[]) => Promise<unknown>;
    wrapped[name] = async (...args: never[]) => {
      const result = await original(...args);
      const marker = path.join(markers, name);
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, JSON.stringify({ at: new Date().toISOString(), result }));
        process.kill(process.pid, 'SIGKILL');
      }
      return result;
    };
  }
  return wrapped as unknown as MigrationActivities;
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const markers = process.env.ETCD_STRETCH_CRASH_MARKERS!;
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const worker = await Worker.create({
  connection,
  taskQueue: process.env.ETCD_STRETCH_TASK_QUEUE!,
  workflowBundle: { codePath: process.env.ETCD_STRETCH_WORKFLOW_BUNDLE! },
  activities: crashOnceAfter(createMigrationActivities({ kubeconfig: process.env.KUBECONFIG! }), markers),
});
await worker.run();
await connection.close();
