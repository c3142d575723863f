/**
 * The worker process's probes (worker/health-server.ts) against a local Temporal dev server:
 * liveness answers from the start and keeps answering while Temporal is down (the process is
 * alive; a liveness probe that asked Temporal would get every worker restarted); startup turns
 * 200 once the worker runs; readiness is 200 while Temporal lists this process's poller, 503
 * while Temporal is down, 200 again after it is back. The image's HEALTHCHECK command
 * (worker/health-probe.ts) exits 0 and 1 accordingly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { freePort } from '../helpers/etcd-cluster.js';
import { PersistentDevServer } from '../helpers/temporal-server.js';
import { workflowBundle } from './harness.js';

interface Answer {
  status: number;
  body: { status: string; detail: string };
}

describe('the worker process serves liveness, startup and readiness probes', () => {
  let server: PersistentDevServer;
  let worker: ChildProcess;
  let healthPort = 0;
  const output: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-probes-'));
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  const env = () => ({
    ETCD_STRETCH_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
  });
  const ask = async (probe: string): Promise<Answer> => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/${probe}`, {
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  /** The HEALTHCHECK command, as the image runs it (here through tsx, from the sources). */
  const healthcheck = (probe: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'health-probe.ts'), probe],
      {
        env: { ...process.env, ...env() },
        encoding: 'utf8',
      },
    );

  beforeAll(async () => {
    server = await PersistentDevServer.start();
    fs.writeFileSync(bundlePath, (await workflowBundle()).code);
    healthPort = await freePort();
    const kubeconfig = path.join(tmp, 'kubeconfig');
    fs.writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const base = { ...process.env };
    for (const k of Object.keys(base)) if (/^(ETCD_STRETCH|TEMPORAL)_/.test(k)) delete base[k];
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'main.ts')], {
      env: {
        ...base,
        ...env(),
        TEMPORAL_ADDRESS: server.address,
        ETCD_STRETCH_TASK_QUEUE: `probes-${randomUUID()}`,
        ETCD_STRETCH_WORKFLOW_BUNDLE: bundlePath,
        ETCD_STRETCH_METRICS_ADDRESS: 'off',
        KUBECONFIG: kubeconfig,
        LOG_LEVEL: 'INFO',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const s of [worker.stdout, worker.stderr]) s?.on('data', (c: Buffer) => output.push(c.toString()));
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGKILL');
      await exited;
    }
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is live, started and ready once the worker polls', async () => {
    await waitFor(
      'the worker to be ready',
      async () => (await ask('readyz').catch(() => undefined))?.status === 200,
      { timeoutMs: 60_000, intervalMs: 250, onTimeout: () => `worker output:\n${output.join('')}` },
    );
    const ready = await ask('readyz');
    expect(ready.body.detail).toMatch(/^\d+@.+ polls probes-.+ \(workflow\)$/);
    expect((await ask('startupz')).status).toBe(200);
    expect((await ask('livez')).status).toBe(200);
    expect(output.join('')).toContain(bundlePath);
    expect(healthcheck('livez').status).toBe(0);
    expect(healthcheck('readyz').status).toBe(0);
    expect(healthcheck('nonsense').status).toBe(1);
  });

  it('stays live while Temporal is down, unready until it is back', async () => {
    await server.crash();
    await waitFor('readiness to fail', async () => (await ask('readyz')).status === 503, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const unready = await ask('readyz');
    expect(unready.body.status).toBe('failing');
    const live = await ask('livez');
    expect(live).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(live.body.detail).toContain(`pid ${worker.pid}`);
    expect(healthcheck('livez').status).toBe(0);
    expect(healthcheck('readyz').status).toBe(1);
    expect(worker.exitCode).toBeNull();

    await server.startAgain();
    await waitFor('readiness to come back', async () => (await ask('readyz')).status === 200, {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    expect((await ask('livez')).status).toBe(200);
    expect(worker.exitCode).toBeNull();
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
