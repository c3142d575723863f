/**
 * The real worker process (worker/main.ts) in per-cluster mode against a local Temporal dev
 * server: with ETCD_STRETCH_CLUSTER=x it polls the workflow task queue for workflow tasks only
 * and etcd-stretch-x for activity tasks only, runs an activity sent there through context x
 * (a fake API server records the request), refuses one for the other cluster (context y, which
 * its kubeconfig has too) with WrongCluster before any request, and stops both workers on SIGTERM.
 * A probe workflow on a queue of this test sends the activities, as the migration workflow does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { PersistentDevServer } from '../helpers/temporal-server.js';
import { makeSpec } from '../unit/fixtures/migration-spec.js';
import { workflowBundle } from './harness.js';
import type { ensureHeadlessServiceOn } from './probes/cluster-activity.js';

const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

interface Recorded {
  method?: string;
  url?: string;
  authorization?: string;
}

/** A stand-in API server that records each request and refuses it (403, as RBAC would). */
async function fakeApiServer(): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: 'forbidden by the test',
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** worker/main.ts as a process; its stdout lines (JSON logs) collected. */
function startWorker(env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const base = { ...process.env };
  for (const k of Object.keys(base)) {
    if (k.startsWith('ETCD_STRETCH_') || k.startsWith('TEMPORAL_') || k.startsWith('KUBERNETES_'))
      delete base[k];
  }
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'main.ts')], {
    env: { ...base, LOG_LEVEL: 'INFO', ETCD_STRETCH_METRICS_ADDRESS: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, lines };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

describe('the worker process with ETCD_STRETCH_CLUSTER=x', () => {
  let server: PersistentDevServer;
  let client: Client;
  let connection: Connection;
  let native: NativeConnection;
  let apiX: Awaited<ReturnType<typeof fakeApiServer>>;
  let apiY: Awaited<ReturnType<typeof fakeApiServer>>;
  let worker: { child: ChildProcess; lines: string[] };
  let identity = '';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'per-cluster-worker-'));
  const workflowQueue = `migrations-${randomUUID()}`;
  const probeQueue = `probe-${randomUUID()}`;
  const spec = makeSpec((i) => {
    i.source.context = 'x';
    i.target.context = 'y';
  });

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    server = await PersistentDevServer.start();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    native = await NativeConnection.connect({ address: server.address });
    apiX = await fakeApiServer();
    apiY = await fakeApiServer();
    // A jump-host style kubeconfig with both clusters: the worker must still reach x only.
    const kubeconfig = path.join(tmp, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          // Plain HTTP, which client-node allows only with this set.
          { name: 'x', cluster: { server: apiX.url, 'insecure-skip-tls-verify': true } },
          { name: 'y', cluster: { server: apiY.url, 'insecure-skip-tls-verify': true } },
        ],
        users: [
          { name: 'x', user: { token: 'token-x' } },
          { name: 'y', user: { token: 'token-y' } },
        ],
        contexts: [
          { name: 'x', context: { cluster: 'x', user: 'x' } },
          { name: 'y', context: { cluster: 'y', user: 'y' } },
        ],
      }),
    );
    const bundle = path.join(tmp, 'workflow-bundle.js');
    fs.writeFileSync(bundle, (await workflowBundle()).code);
    worker = startWorker({
      TEMPORAL_ADDRESS: server.address,
      ETCD_STRETCH_TASK_QUEUE: workflowQueue,
      ETCD_STRETCH_CLUSTER: 'x',
      ETCD_STRETCH_WORKFLOW_BUNDLE: bundle,
      KUBECONFIG: kubeconfig,
    });
    identity = `${worker.child.pid}@${os.hostname()}`;
    await waitFor(
      'the worker to be ready',
      () => {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.lines.join('\n')}`);
        return Promise.resolve(worker.lines.some((l) => l.includes('"worker ready"')));
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  });

  afterAll(async () => {
    if (worker?.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await exitOf(worker.child);
    }
    await native?.close();
    await connection?.close();
    await server?.stop();
    await apiX?.close();
    await apiY?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function pollersOf(taskQueue: string, type: keyof typeof TASK_QUEUE_TYPE): Promise<string[]> {
    const r = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: TASK_QUEUE_TYPE[type],
    });
    return (r.pollers ?? []).map((p) => p.identity ?? '');
  }

  /** Runs the probe workflow: `ensureHeadlessService` for `side`, sent to etcd-stretch-x. */
  async function probe(side: 'source' | 'target'): Promise<unknown> {
    const probeWorker = await Worker.create({
      connection: native,
      taskQueue: probeQueue,
      workflowsPath: path.join(REPO_ROOT, 'test', 'workflow', 'probes', 'cluster-activity.ts'),
    });
    return probeWorker.runUntil(
      client.workflow
        .execute<typeof ensureHeadlessServiceOn>('ensureHeadlessServiceOn', {
          taskQueue: probeQueue,
          workflowId: `probe-${side}-${randomUUID()}`,
          args: ['etcd-stretch-x', spec, side],
        })
        .then(
          () => new Error('the activity succeeded against a server that refuses everything'),
          (err: unknown) => err,
        ),
    );
  }

  function activityFailureOf(err: unknown): { activity: ActivityFailure; cause: ApplicationFailure } {
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    const cause = (activity as ActivityFailure).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return { activity: activity as ActivityFailure, cause: cause as ApplicationFailure };
  }

  it("logs the mode, the cluster and both task queues in 'worker ready'", () => {
    const ready = JSON.parse(worker.lines.find((l) => l.includes('"worker ready"'))!) as Record<
      string,
      unknown
    >;
    expect(ready).toMatchObject({
      mode: 'per-cluster',
      cluster: 'x',
      taskQueue: workflowQueue,
      activityTaskQueue: 'etcd-stretch-x',
    });
  });

  it('polls the workflow queue for workflow tasks and etcd-stretch-x for activity tasks, each only', async () => {
    await waitFor(
      `${identity} polling ${workflowQueue} (workflow) and etcd-stretch-x (activity)`,
      async () =>
        (await pollersOf(workflowQueue, 'workflow')).includes(identity) &&
        (await pollersOf('etcd-stretch-x', 'activity')).includes(identity),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // Both workers have polled by now: the workflow one has no activities, the activity one no workflows.
    expect(await pollersOf(workflowQueue, 'activity')).not.toContain(identity);
    expect(await pollersOf('etcd-stretch-x', 'workflow')).not.toContain(identity);
  });

  it("runs an activity sent to etcd-stretch-x against its own cluster's API server", async () => {
    const { activity, cause } = activityFailureOf(await probe('source'));
    expect(activity.identity).toBe(identity);
    expect(cause.type, cause.message).toBe('Forbidden');
    expect(cause.nonRetryable).toBe(true);
    expect(apiX.requests).toEqual([
      {
        method: 'GET',
        url: `/api/v1/namespaces/${spec.source.namespace}/services/${spec.source.service}`,
        authorization: 'Bearer token-x',
      },
    ]);
  });

  it('refuses an activity for the other cluster with WrongCluster, sending it no request', async () => {
    const { activity, cause } = activityFailureOf(await probe('target'));
    expect(activity.identity).toBe(identity);
    expect(cause.type).toBe('WrongCluster');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain(
      'this worker serves cluster "x" only (ETCD_STRETCH_CLUSTER); "y" is reached by the worker on task queue etcd-stretch-y',
    );
    expect(apiY.requests).toEqual([]);
  });

  it('stops both workers on SIGTERM and exits 0', async () => {
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker.child)).toEqual({ code: 0, signal: null });
  });
});

describe('the worker process with a KUBECONFIG that lacks the context ETCD_STRETCH_CLUSTER names', () => {
  it('exits 1 at start, naming the contexts it has', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'per-cluster-worker-'));
    try {
      const kubeconfig = path.join(tmp, 'kubeconfig');
      fs.writeFileSync(
        kubeconfig,
        YAML.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [{ name: 'source', context: { cluster: 'c', user: 'u' } }],
        }),
      );
      // No Temporal needed: the kubeconfig is checked before connecting (port 1: nothing listens).
      const w = startWorker({
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        ETCD_STRETCH_CLUSTER: 'x',
        KUBECONFIG: kubeconfig,
      });
      expect(await exitOf(w.child)).toEqual({ code: 1, signal: null });
      expect(w.lines.join('\n')).toContain(
        `worker: KUBECONFIG ${kubeconfig} has no context "x" (it has: source)`,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
