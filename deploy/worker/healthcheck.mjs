// Liveness of the etcd-stretch worker, for the Docker HEALTHCHECK, docker-compose and the
// Deployment's livenessProbe: healthy when the Temporal frontend lists a poller of THIS
// container (worker identity `<pid>@<hostname>`, the SDK default) seen within the last STALE_MS
// on the workflow task queue, and for a per-cluster worker (ETCD_STRETCH_CLUSTER) also on its
// activity task queue. Same settings as the worker (worker/temporal-connection.ts,
// worker/worker-mode.ts): run it as `node --import tsx deploy/worker/healthcheck.mjs`.
// Exit 0 healthy, 1 not.
import os from 'node:os';
import process from 'node:process';
import { Connection } from '@temporalio/client';
import { temporalSettings } from '../../worker/temporal-connection.ts';
import { workerModeFromEnvironment } from '../../worker/worker-mode.ts';

const STALE_MS = 150_000; // a long poll lasts up to ~70 s: two of them may pass between updates
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 };

async function main() {
  const s = temporalSettings();
  const connection = await Connection.connect({
    address: s.address,
    tls: s.tls,
    apiKey: s.apiKey,
    connectTimeout: 10_000,
  });
  try {
    const mode = workerModeFromEnvironment(s.taskQueue);
    const polled = [{ taskQueue: s.taskQueue, type: 'workflow' }];
    if (mode.mode === 'per-cluster') polled.push({ taskQueue: mode.activityTaskQueue, type: 'activity' });
    const suffix = `@${os.hostname()}`;
    const seen = [];
    for (const { taskQueue, type } of polled) {
      const r = await connection.workflowService.describeTaskQueue({
        namespace: s.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: TASK_QUEUE_TYPE[type],
      });
      const now = Date.now();
      const fresh = (r.pollers ?? []).filter((p) => {
        const seconds = Number(String(p.lastAccessTime?.seconds ?? 0));
        return p.identity?.endsWith(suffix) && now - seconds * 1000 < STALE_MS;
      });
      if (fresh.length === 0) {
        process.stderr.write(
          `unhealthy: no recent ${type} poller ${suffix} on task queue ${taskQueue} (namespace ${s.namespace}, ${s.address})\n`,
        );
        return 1;
      }
      seen.push(`${fresh.map((p) => p.identity).join(', ')} polls ${taskQueue} (${type})`);
    }
    process.stdout.write(`healthy: ${seen.join('; ')}\n`);
    return 0;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
