/**
 * docker-compose.yml's topology without containers (sandbox/compose-topology.ts): Debian's
 * PostgreSQL, the schema by Temporal's own temporal-sql-tool with compose's script, the Temporal
 * server at compose's pin (setup part temporal_server) rendered from the image's config
 * template with compose's environment, compose's namespace script, and the worker from the
 * image's contents (`npm ci --omit=dev` as the Dockerfile runs it, dist/ with the prebuilt
 * bundle) as `node dist/worker/main.js`. One real migration in the sandbox runs through it; the
 * Temporal server is SIGKILLed during the join and started again on the same database. The run
 * completes safely, and its whole history is read back from the server after a further restart:
 * it was kept in PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { ComposeTopology, imageContents, temporalServerDir } from '../../sandbox/compose-topology.js';
import { kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { freePort } from '../helpers/etcd-cluster.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import type { WorkerHost } from '../helpers/worker-hosts.js';

const serverBuilt = fs.existsSync(path.join(temporalServerDir(), 'bin', 'temporal-server'));
const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-image-'));
let topology: ComposeTopology;
let connection: Connection;
const said: string[] = [];
const say = (line: string) => {
  said.push(line);
  process.stderr.write(`compose-topology: ${line}\n`);
};

beforeAll(async () => {
  if (!serverBuilt) return;
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const install = /^RUN (npm ci --omit=dev .*)$/m.exec(dockerfile)?.[1];
  expect(install, 'the Dockerfile installs production dependencies').toBeDefined();
  const started = Date.now();
  await imageContents(appDir, install!);
  say(`image contents in ${Date.now() - started} ms`);
  topology = await ComposeTopology.start({ appDir, say });
  connection = await Connection.connect({ address: topology.address });
}, 15 * 60_000);

afterAll(async () => {
  await connection?.close();
  await topology?.stop();
  fs.rmSync(appDir, { recursive: true, force: true });
});

/** One worker process as compose runs it, asked through its own probes before the run starts. */
function composeWorker(exits: string[]): WorkerHost {
  return {
    async run(taskQueue, _workflowId, fn) {
      const healthPort = await freePort();
      const w = topology.workerCommand({
        KUBECONFIG: kubeconfigPath(),
        ETCD_STRETCH_TASK_QUEUE: taskQueue,
        ETCD_STRETCH_METRICS_ADDRESS: 'off',
        ETCD_STRETCH_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
        LOG_LEVEL: 'WARN',
      });
      const child: ChildProcess = spawn(process.execPath, w.argv, {
        cwd: w.cwd,
        env: w.env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.once('exit', (code, signal) => exits.push(signal ?? `exit ${code}`));
      try {
        await waitFor(
          'the compiled worker to be ready',
          async () => {
            if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}`);
            const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
            return res?.status === 200;
          },
          { timeoutMs: 120_000, intervalMs: 500 },
        );
        return await fn();
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
      }
    },
  };
}

describe.skipIf(!serverBuilt)(
  'compose topology without containers (needs setup part temporal_server)',
  () => {
    it('runs a migration that survives a Temporal server restart, its history kept in PostgreSQL', async () => {
      const client = new Client({ connection });
      const exits: string[] = [];
      let joinStepsDoneAtRestart = -1;
      let recoveredAt = 0;
      let restartedAt = 0;
      const r = await runAcceptanceScenario({
        client,
        workers: composeWorker(exits),
        onStatus: async ({ status, say: tell }) => {
          const join = status.plan?.steps.filter((s) => s.phase === 'join') ?? [];
          const done = join.filter((s) => s.state === 'done').length;
          if (!restartedAt && status.phase === 'join' && done >= 2) {
            joinStepsDoneAtRestart = done;
            tell(`killing the Temporal server (${done} join steps done); PostgreSQL keeps running`);
            await topology.restartServer(3000);
            restartedAt = Date.now();
            tell('Temporal server back');
          }
          if (restartedAt && !recoveredAt && done > joinStepsDoneAtRestart) recoveredAt = Date.now();
        },
      });
      recordFaultRun('compose-topology', 'Compose topology without containers: Temporal server restart', r, {
        recoveryMs: recoveredAt && restartedAt ? recoveredAt - restartedAt : null,
        notes: [
          `start-up ms: ${JSON.stringify(topology.timings)}`,
          `worker exits: ${exits.join(', ') || 'none'}`,
          ...said,
        ],
      });
      expect(topology.serverRestarts).toHaveLength(1);
      expect(recoveredAt, 'join steps completed after the restart').toBeGreaterThan(0);
      // The worker kept running through the outage and stopped only at the end: SIGTERM, which
      // it handles, exit code 0.
      expect(exits).toEqual(['exit 0']);
      expectCompletedSafely(r);

      // Once more, after the run: whatever the server shows now, it read from PostgreSQL.
      await topology.restartServer();
      const fresh = await Connection.connect({ address: topology.address });
      try {
        const handle = new Client({ connection: fresh }).workflow.getHandle(r.temporalWorkflowId);
        const events = (await handle.fetchHistory()).events ?? [];
        const types = events.map((e) => String(e.eventType));
        expect(types[0]).toMatch(/WORKFLOW_EXECUTION_STARTED|^1$/);
        expect(types.at(-1)).toMatch(/WORKFLOW_EXECUTION_COMPLETED|^2$/);
        const firstAt = Number(events[0]!.eventTime?.seconds ?? 0) * 1000;
        expect(firstAt, 'the history starts before the first restart').toBeLessThan(
          Date.parse(topology.serverRestarts[0]!.killedAt),
        );
        expect((await handle.describe()).status.name).toBe('COMPLETED');
      } finally {
        await fresh.close();
      }
    });
  },
);
