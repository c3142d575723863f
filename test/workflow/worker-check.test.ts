/**
 * `etcd-stretch start` refuses a spec whose task queues no worker polls, against a real Temporal
 * dev server: the workers here are real Temporal workers (fake activities; the check only asks
 * Temporal who polls which queue), stopped after each test.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Worker } from '@temporalio/worker';
import { missingWorkers, workerCheckRefusal } from '../../client/worker-check.js';
import { queueNeeds, type QueueNeed } from '../../core/routing/worker-needs.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { createFakeActivities } from './fake-activities.js';
import {
  perClusterWorkersSpec,
  testSpec,
  useTestEnvironment,
  workflowBundle,
  type PerClusterQueues,
} from './harness.js';

const env = useTestEnvironment();
const running: { worker: Worker; done: Promise<void> }[] = [];

afterEach(async () => {
  for (const r of running) r.worker.shutdown();
  await Promise.all(running.splice(0).map((r) => r.done));
});

function run(worker: Worker): void {
  running.push({ worker, done: worker.run() });
}

/** A per-cluster worker's workflow half: workflows only on the workflow task queue. */
async function workflowWorker(taskQueue: string): Promise<void> {
  run(
    await Worker.create({
      connection: env().nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
    }),
  );
}

/** A per-cluster worker's activity half: activities only, on its cluster's queue. */
async function activityWorker(taskQueue: string): Promise<void> {
  run(
    await Worker.create({
      connection: env().nativeConnection,
      taskQueue,
      activities: createFakeActivities().activities,
    }),
  );
}

function freshQueues(): PerClusterQueues {
  const id = randomUUID();
  return { workflow: `wf-${id}`, source: `src-${id}`, target: `tgt-${id}` };
}

function specOf(overrides: Record<string, unknown>): MigrationSpec {
  const parsed = parseMigrationSpec(testSpec(overrides));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

/** Waits until Temporal lists a poller for each of `needs` (workers just started). */
async function untilPolled(spec: MigrationSpec, workflowQueue: string, needs: QueueNeed[]): Promise<void> {
  const key = (n: QueueNeed) => `${n.queue} ${n.tasks}`;
  const wanted = new Set(needs.map(key));
  await waitFor(
    `pollers on ${[...wanted].join(', ')}`,
    async () => {
      const missing = await missingWorkers(env().client, spec, workflowQueue);
      return !missing.some((n) => wanted.has(key(n)));
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

describe('the worker check of etcd-stretch start', () => {
  it("per-cluster: refuses while the target cluster's queue has no poller, naming it; passes once one polls", async () => {
    const queues = freshQueues();
    const spec = specOf({ workers: perClusterWorkersSpec(queues) });
    const [workflowNeed, sourceNeed, targetNeed] = queueNeeds(spec, queues.workflow);
    await workflowWorker(queues.workflow);
    await activityWorker(queues.source);
    await untilPolled(spec, queues.workflow, [workflowNeed!, sourceNeed!]);

    const missing = await missingWorkers(env().client, spec, queues.workflow);
    expect(missing).toEqual([targetNeed]);
    const refusal = workerCheckRefusal(spec, missing);
    expect(refusal).toContain(
      `no worker polls task queue "${queues.target}" for activities (workers.target.taskQueue)`,
    );
    expect(refusal).toContain(
      `ETCD_STRETCH_CLUSTER=${spec.target.context} and ETCD_STRETCH_ACTIVITY_TASK_QUEUE=${queues.target}`,
    );
    expect(refusal).not.toContain(queues.source);

    await activityWorker(queues.target);
    await untilPolled(spec, queues.workflow, [targetNeed!]);
    expect(workerCheckRefusal(spec, await missingWorkers(env().client, spec, queues.workflow))).toBeNull();
  });

  it('single: refuses while only per-cluster workers run (none serves activities on the workflow queue)', async () => {
    const queues = freshQueues();
    const spec = specOf({});
    expect(spec.workers.mode).toBe('single');
    await workflowWorker(queues.workflow);
    await activityWorker(queues.source);
    const [workflowNeed, activityNeed] = queueNeeds(spec, queues.workflow);
    await untilPolled(spec, queues.workflow, [workflowNeed!]);

    const missing = await missingWorkers(env().client, spec, queues.workflow);
    expect(missing).toEqual([activityNeed]);
    const refusal = workerCheckRefusal(spec, missing);
    expect(refusal).toContain(
      `no worker polls task queue "${queues.workflow}" for activities (the workflow task queue`,
    );
    expect(refusal).toContain(
      `start a worker without ETCD_STRETCH_CLUSTER on ETCD_STRETCH_TASK_QUEUE=${queues.workflow}`,
    );
  });

  it('the CLI refuses and starts nothing; with --no-worker-check it starts the run', async () => {
    const queues = freshQueues();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-check-'));
    const file = path.join(dir, 'spec.yaml');
    fs.writeFileSync(file, YAML.stringify(testSpec({ workers: perClusterWorkersSpec(queues) })));
    const workflowId = `worker-check-${randomUUID()}`;
    const cli = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'client', 'cli.ts'),
          'start',
          file,
          '--id',
          workflowId,
          ...args,
        ],
        {
          env: { ...process.env, TEMPORAL_ADDRESS: env().address, ETCD_STRETCH_TASK_QUEUE: queues.workflow },
        },
      );
    try {
      const refused = await cli().then(
        () => undefined,
        (err: { code?: number; stderr?: string }) => err,
      );
      expect(refused?.code).toBe(1);
      const lines = (refused?.stderr ?? '').trim().split('\n');
      expect(lines[0]).toBe('etcd-stretch: not started: the spec needs workers that do not run now:');
      expect(lines.slice(1, 4)).toEqual([
        expect.stringContaining(`"${queues.workflow}" for workflow tasks`),
        expect.stringContaining(`"${queues.source}" for activities (workers.source.taskQueue)`),
        expect.stringContaining(`"${queues.target}" for activities (workers.target.taskQueue)`),
      ]);
      await expect(env().client.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);

      const started = await cli('--no-worker-check');
      expect(started.stdout).toContain(`started ${workflowId}`);
      expect((await env().client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    } finally {
      await env()
        .client.workflow.getHandle(workflowId)
        .terminate('test over')
        .catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
