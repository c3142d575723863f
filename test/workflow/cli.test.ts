/**
 * The CLI as an operator runs it (client/etcd-stretch.mjs, spawned), against a dev server and a
 * worker with fake activities: the derived workflow ID and the refused second start, `list` of a
 * run waiting at a gate, `--output json`, and the exit codes of `watch` and `start --watch`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { EXIT } from '../../client/exit-codes.js';
import type { MigrationRow } from '../../client/list-migrations.js';
import { migrationWorkflowId } from '../../core/workflow-id.js';
import { createFakeActivities, nonRetryable, type FakeOptions } from './fake-activities.js';
import { allGates, createWorker, testSpec, useTestEnvironment, waitForStatus } from './harness.js';

const env = useTestEnvironment();
const BIN = path.join(REPO_ROOT, 'client', 'etcd-stretch.mjs');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the installed command's entry point with the test server's address and `taskQueue`. */
function cli(taskQueue: string, ...args: string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))),
      // No Temporal config file of this machine's user.
      HOME: scratch,
      TEMPORAL_ADDRESS: env().address,
      ETCD_STRETCH_TASK_QUEUE: taskQueue,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The example spec in Kubernetes namespace `ns` (its own derived ID), written to a file. */
function specFile(ns: string, overrides: Record<string, unknown> = {}) {
  const base = testSpec(overrides);
  const spec = {
    ...base,
    source: { ...(base.source as object), namespace: ns },
    target: { ...(base.target as object), namespace: ns },
  } as Record<string, unknown> & Parameters<typeof migrationWorkflowId>[0];
  const file = path.join(scratch, `${ns}.yaml`);
  fs.writeFileSync(file, YAML.stringify(spec));
  return { file, id: migrationWorkflowId(spec) };
}

/** A worker with fake activities on a task queue of its own while `fn` runs. */
async function withWorker<T>(fakeOptions: FakeOptions, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `cli-${randomUUID()}`;
  const worker = await createWorker(env(), taskQueue, createFakeActivities(fakeOptions).activities);
  return worker.runUntil(fn(taskQueue));
}

function lastJsonLine(text: string): Record<string, unknown> {
  const lines = text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe('etcd-stretch against Temporal', () => {
  it('start derives the ID; a second start is refused with it; list shows the run at its gate; watch exits 5 on abort', async () => {
    const { file, id } = specFile('cli-second-start', { gates: allGates('manual') });
    expect(id).toBe('etcd-stretch-source.cli-second-start.etcd-to-target.cli-second-start.etcd-main');
    await withWorker({}, async (tq) => {
      const started = await cli(tq, 'start', file, '--output', 'json');
      expect(started.code, started.stderr).toBe(EXIT.ok);
      const run = JSON.parse(started.stdout) as { workflowId: string; runId: string };
      expect(run.workflowId).toBe(id);
      const handle = env().client.workflow.getHandle(id);
      await waitForStatus(handle, 'the run at its first gate', (s) => s.waitingFor?.kind === 'approval');

      const second = await cli(tq, 'start', file);
      expect(second.code).toBe(EXIT.error);
      expect(second.stderr).toContain(`not started: migration ${id} is already running (run ${run.runId})`);
      expect(second.stderr).toContain(`etcd-stretch watch ${id}`);
      expect((await handle.describe()).runId).toBe(run.runId);

      // Visibility lists a new run a moment after it starts.
      await waitFor(
        'the run in Temporal visibility',
        async () => {
          for await (const info of env().client.workflow.list({ query: `WorkflowId = '${id}'` })) return info;
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      // Independent reads, run side by side (each spawn loads the CLI).
      const [listed, table, elsewhere, status] = await Promise.all([
        cli(tq, '-o', 'json', 'list', '--waiting'),
        cli(tq, 'list', '--waiting', 'shrink', '--state', 'waiting-approval'),
        cli(tq, '-o', 'json', 'list', '--waiting', 'join'),
        cli(tq, 'status', id, '-o', 'json'),
      ]);
      expect(listed.code, listed.stderr).toBe(EXIT.ok);
      const row = (JSON.parse(listed.stdout) as MigrationRow[]).find((r) => r.workflowId === id);
      expect(row).toMatchObject({ runId: run.runId, state: 'waiting-approval', waitingGate: 'shrink' });
      expect(row?.waitingFor).toMatchObject({ kind: 'approval', gate: 'shrink' });
      expect(table.stdout.split('\n')[0]).toMatch(/^WORKFLOW ID +STATE +PHASE +WAITING FOR +STARTED$/);
      expect(table.stdout).toMatch(
        new RegExp(`${id.replace(/\./g, '\\.')} +waiting-approval +\\S+ +approval at gate shrink`),
      );
      expect((JSON.parse(elsewhere.stdout) as MigrationRow[]).map((r) => r.workflowId)).not.toContain(id);

      expect(JSON.parse(status.stdout)).toMatchObject({ workflowState: 'waiting-approval' });

      const watch = cli(tq, 'watch', id, '--interval', '200', '--output', 'json');
      const aborted = await cli(tq, 'abort', id, '--reason', 'cli test', '-o', 'json');
      expect(JSON.parse(aborted.stdout)).toMatchObject({ workflowId: id, requested: 'abort' });
      const watched = await watch;
      expect(watched.code, watched.stderr).toBe(EXIT.aborted);
      const end = lastJsonLine(watched.stdout);
      expect(end).toMatchObject({
        type: 'end',
        workflowId: id,
        runId: run.runId,
        ending: 'aborted',
        exitCode: 5,
      });

      // The run ended: the same migration can start again, as a new run of the same ID.
      const again = await cli(tq, 'start', file, '-o', 'json');
      expect(again.code, again.stderr).toBe(EXIT.ok);
      const rerun = JSON.parse(again.stdout) as { workflowId: string; runId: string };
      expect(rerun.workflowId).toBe(id);
      expect(rerun.runId).not.toBe(run.runId);
      // Terminated in Temporal while it waits: watch ends too, with its own code.
      await waitForStatus(handle, 'the new run at its gate', (s) => s.waitingFor?.kind === 'approval');
      await handle.terminate('cli test');
      const terminated = await cli(tq, 'watch', id);
      expect(terminated.code).toBe(EXIT.terminated);
      expect(terminated.stdout).toContain(`${id}: ended in Temporal without an outcome (exit 7)`);
    });
    // No worker any more: the ending of a closed run still comes from Temporal.
    const late = await cli('no-worker', 'watch', id, '-o', 'json');
    expect(late.code, late.stderr).toBe(EXIT.terminated);
    expect(lastJsonLine(late.stdout)).toMatchObject({ type: 'end', ending: 'terminated', exitCode: 7 });
  }, 300_000);

  it('list without a worker: the state and gate from the search attributes the run upserts', async () => {
    const { file, id } = specFile('cli-no-worker', { gates: allGates('manual') });
    const handle = env().client.workflow.getHandle(id);
    const tq = await withWorker({}, async (taskQueue) => {
      expect((await cli(taskQueue, 'start', file)).code).toBe(EXIT.ok);
      await waitForStatus(handle, 'the run at its first gate', (s) => s.waitingFor?.kind === 'approval');
      return taskQueue;
    });
    try {
      await waitFor(
        'the gate in Temporal visibility',
        async () => {
          const query = `WorkflowId = '${id}' AND EtcdMigrationWaitingGate = 'shrink'`;
          for await (const info of env().client.workflow.list({ query })) return info;
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const listed = await cli(tq, '-o', 'json', 'list', '--waiting', 'shrink');
      expect(listed.code, listed.stderr).toBe(EXIT.ok);
      const row = (JSON.parse(listed.stdout) as MigrationRow[]).find((r) => r.workflowId === id);
      expect(row).toMatchObject({ state: 'waiting-approval', waitingGate: 'shrink', waitingFor: null });
      expect(row?.message).toContain('from the search attributes');
    } finally {
      await handle.terminate('cli test');
    }
  }, 300_000);

  it('start --watch exits 0 for a completed run, 3 for a failed one, 4 for a rollback', async () => {
    const completed = specFile('cli-completed', { gates: allGates('auto') });
    await withWorker({}, async (tq) => {
      const r = await cli(tq, 'start', completed.file, '--watch', '--interval', '200');
      expect(r.code, r.stderr).toBe(EXIT.ok);
      expect(r.stdout).toContain(`${completed.id}: completed (exit 0)`);
    });

    const refused = specFile('cli-refused');
    await withWorker({ refusals: ['StatefulSet etcd-main already exists in target'] }, async (tq) => {
      const r = await cli(tq, 'start', refused.file, '--watch', '--interval', '200', '-o', 'json');
      expect(r.code, r.stderr).toBe(EXIT.failed);
      // JSON Lines throughout: the start, the progress, the end.
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      expect(lines[0]).toMatchObject({ type: 'started', workflowId: refused.id });
      expect(lines.slice(1, -1).every((l) => l.type === 'progress')).toBe(true);
      expect(lastJsonLine(r.stdout)).toMatchObject({ type: 'end', ending: 'failed', exitCode: 3 });
      expect(String(lastJsonLine(r.stdout).message)).toContain('etcd-main already exists');
    });

    const rollback = specFile('cli-rollback', { gates: allGates('auto') });
    const failConsistency: FakeOptions = {
      failWhen: (c) => (c.name === 'verifyConsistency' ? nonRetryable('hashKV disagrees') : undefined),
    };
    await withWorker(failConsistency, async (tq) => {
      const r = await cli(tq, 'start', rollback.file, '--watch', '--interval', '200');
      expect(r.code, r.stderr).toBe(EXIT.rolledBack);
      expect(r.stdout).toContain(`${rollback.id}: rolled back (exit 4)`);
    });
  }, 300_000);

  it('watch exits 6 when an abort after the client switch stops the run', async () => {
    const { file, id } = specFile('cli-stopped', { gates: allGates('auto', { finalize: 'manual' }) });
    await withWorker({}, async (tq) => {
      expect((await cli(tq, 'start', file)).code).toBe(EXIT.ok);
      await waitForStatus(
        env().client.workflow.getHandle(id),
        'the finalize gate, after the switch',
        (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'finalize',
      );
      expect((await cli(tq, 'abort', id, '--reason', 'second thoughts')).code).toBe(EXIT.ok);
      const r = await cli(tq, 'watch', id, '--interval', '200');
      expect(r.code, r.stderr).toBe(EXIT.stopped);
      expect(r.stdout).toContain(`${id}: stopped at a safe point after the client switch (exit 6)`);
    });
  });
});
