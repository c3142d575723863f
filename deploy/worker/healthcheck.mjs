// Liveness of the etcd-stretch worker, for the Docker HEALTHCHECK, docker-compose and the
// Deployment's livenessProbe: healthy when the Temporal frontend lists a poller of THIS
// container (worker identity `<pid>@<hostname>`, the SDK default) on the workflow task queue,
// seen within the last STALE_MS. Same settings as the worker (worker/temporal-connection.ts):
// run it as `node --import tsx deploy/worker/healthcheck.mjs`. Exit 0 healthy, 1 not.
import os from 'node:os';
import process from 'node:process';
import { Connection } from '@temporalio/client';
import { temporalSettings } from '../../worker/temporal-connection.ts';

const STALE_MS = 150_000; // a long poll lasts up to ~70 s: two of them may pass between updates
const TASK_QUEUE_TYPE_WORKFLOW = 1;

async function main() {
  const s = temporalSettings();
  const connection = await Connection.connect({
    address: s.address,
    tls: s.tls,
    apiKey: s.apiKey,
    connectTimeout: 10_000,
  });
  try {
    const r = await connection.workflowService.describeTaskQueue({
      namespace: s.namespace,
      taskQueue: { name: s.taskQueue },
      taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
    });
    const suffix = `@${os.hostname()}`;
    const now = Date.now();
    const mine = (r.pollers ?? []).filter((p) => p.identity?.endsWith(suffix));
    const fresh = mine.filter((p) => {
      const seconds = Number(String(p.lastAccessTime?.seconds ?? 0));
      return now - seconds * 1000 < STALE_MS;
    });
    if (fresh.length === 0) {
      process.stderr.write(
        `unhealthy: no recent poller ${suffix} on task queue ${s.taskQueue} (namespace ${s.namespace}, ${s.address})\n`,
      );
      return 1;
    }
    process.stdout.write(`healthy: ${fresh.map((p) => p.identity).join(', ')} polls ${s.taskQueue}\n`);
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
