/**
 * Operator experience against real parts: a Temporal dev server with its Web UI, the worker as a
 * process (worker/main.ts: JSON logs on stdout, Prometheus metrics), the article's etcd in the
 * sandbox, headless Chromium (playwright-core) and the `temporal` CLI.
 *
 * Two runs on one source etcd, one after the other:
 * - A (Web UI): started from the UI's start-workflow form, the `expose` gate approved with the
 *   UI's "Send a Signal", followed by `etcd-stretch watch` (plain lines: stdout is a pipe);
 *   aborted with `temporal workflow signal` once the first learner joined: the rollback removes it.
 * - B (Temporal CLI only): `temporal workflow start --input-file`, `query`, `signal`, `show`;
 *   while it waits at the `join` gate a foreign learner is added to the cluster, so the safety
 *   guard refuses the workflow's own learner and the run rolls back.
 * Then the worker's /metrics and its log lines are checked against what the two runs did.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { Etcd3 } from 'etcd3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { kubeconfigPath, REPO_ROOT, toolPath } from '../../sandbox/config.js';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { statusQuery } from '../../workflows/messages.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes.js';
import type { MigrationStatus } from '../../workflows/status.js';
import { workflowBundle } from '../workflow/harness.js';
import { apply, clusterClient, createNamespace, loadManifests, readyPods, waitFor } from '../helpers/kube.js';
import { scenarioSpec } from '../helpers/acceptance.js';
import { EXIT } from '../../client/exit-codes.js';

const run = promisify(execFile);
const SCREENSHOTS = path.join(REPO_ROOT, 'reports', 'screenshots');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function targetName(namespace: string): string {
  return `etcd-${namespace.split('-').pop()}`;
}

/** Waits until `want` holds for the run's status; fails at once when the run ended otherwise. */
async function untilStatus(
  what: string,
  read: () => Promise<MigrationStatus>,
  want: (s: MigrationStatus) => boolean,
  timeoutMs = 3 * 60_000,
): Promise<MigrationStatus> {
  const s = await waitFor(
    what,
    async () => {
      const s = await read();
      return want(s) || ['failed', 'rolled-back', 'aborted', 'completed', 'stopped'].includes(s.workflowState)
        ? s
        : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
  if (!want(s)) throw new Error(`${what}: the run is ${s.workflowState}: ${s.error}`);
  return s;
}

function specFor(namespace: string, manual: string[]): Record<string, unknown> {
  const gates = ['shrink', 'expose', 'dns', 'join', 'leader', 'switch-clients', 'finalize', 'cleanup'];
  return scenarioSpec(namespace, {
    // Unique: the source cluster's DNS is shared with other runs in the sandbox, keyed by member name.
    target: { statefulSet: targetName(namespace) },
    gates: Object.fromEntries(gates.map((g) => [g, manual.includes(g) ? 'manual' : 'auto'])),
  });
}

let env: TestWorkflowEnvironment;
let uiUrl: string;
let metricsUrl: string;
let worker: ChildProcess;
const workerLines: string[] = [];
let browser: Browser;
let ns: string;
let sourceEndpoints: string[];
const taskQueue = `operator-${process.pid}`;
const runA = `operator-ui-${process.pid}`;
const runB = `operator-cli-${process.pid}`;
const runIds: Record<string, string> = {};
/** Run A's membership changes, as its status showed them at the leader gate. */
const joined = { added: 0, promoted: 0 };

async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await run(toolPath('temporal'), [...args, '--address', env.address], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

async function queryByCli(workflowId: string): Promise<MigrationStatus> {
  const out = JSON.parse(
    await temporal('workflow', 'query', '--workflow-id', workflowId, '--name', 'status', '--output', 'json'),
  ) as { queryResult?: MigrationStatus[] } | MigrationStatus[];
  const result = Array.isArray(out) ? out[0] : out.queryResult?.[0];
  if (!result) throw new Error(`temporal workflow query printed no result`);
  return result;
}

async function status(workflowId: string): Promise<MigrationStatus> {
  return env.client.workflow.getHandle(workflowId).query(statusQuery);
}

/** The run's page, loaded until its actions show (a first load on a busy machine can stay blank). */
async function openWorkflowPage(page: Page, workflowId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}`);
    try {
      await page.locator('button:visible', { hasText: 'More Actions' }).waitFor({ timeout: 30_000 });
      return;
    } catch (err) {
      await shot(page, `web-ui-blank-page-${attempt}`);
      if (attempt === 3) throw err;
    }
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-operator-'));
const bundlePath = path.join(scratchDir, 'workflow-bundle.js');

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      ip: '127.0.0.1',
      port,
      ui: true,
      uiPort,
      extraArgs: ['--ui-disable-news-fetch'],
    },
  });
  uiUrl = `http://127.0.0.1:${uiPort}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

  fs.writeFileSync(bundlePath, (await workflowBundle()).code);
  worker = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'main.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      ETCD_STRETCH_TASK_QUEUE: taskQueue,
      KUBECONFIG: kubeconfigPath(),
      ETCD_STRETCH_WORKFLOW_BUNDLE: bundlePath,
      ETCD_STRETCH_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
      LOG_LEVEL: 'INFO',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let partial = '';
  worker.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    workerLines.push(...lines.filter((l) => l.length > 0));
  });

  const source = clusterClient('source');
  ns = await createNamespace(source, 'operator');
  await clusterClient('target').core.createNamespace({ body: { metadata: { name: ns } } });
  await apply(source, loadManifests(path.join(REPO_ROOT, 'test/fixtures/article-etcd.yaml'), ns));
  const pods = await readyPods(source, ns, 'app=etcd', 3);
  sourceEndpoints = pods.map((p) => `http://${p.status!.podIP}:2379`);

  await waitFor(
    'the worker to poll its task queue',
    () => Promise.resolve(workerLines.some((l) => l.includes('"worker ready"'))),
    {
      timeoutMs: 60_000,
    },
  );
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (worker && worker.exitCode === null) {
    worker.kill('SIGINT');
    await new Promise((r) => worker.once('exit', r));
  }
  if (ns) {
    const parsed = parseMigrationSpec(specFor(ns, []));
    if (parsed.ok)
      await removeDnsEntries(
        { clients: kubeClientFactory(kubeconfigPath()) },
        { spec: parsed.spec, side: 'source', strategy: parsed.spec.dns.sourceCluster, hostnames: 'all' },
      ).catch(() => undefined);
    for (const c of [clusterClient('source'), clusterClient('target')])
      await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
  await env?.teardown();
  fs.rmSync(scratchDir, { recursive: true, force: true });
});

describe('operator experience', () => {
  it('Web UI: a migration started from the start-workflow form and approved with "Send a Signal"; watch prints plain lines', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(90_000); // the UI renders slowly on a busy 2-core machine
    await page.goto(`${uiUrl}/namespaces/default/workflows/start-workflow`);
    await page.getByTestId('workflowId').fill(runA);
    await page.getByTestId('taskQueue').fill(taskQueue);
    await page.getByTestId('workflowType').fill('etcdMigration');
    await page.locator('[aria-label=Data]').click();
    await page.keyboard.insertText(
      JSON.stringify({ spec: specFor(ns, ['expose', 'leader', 'switch-clients']) }),
    );
    await page.getByTestId('workflowId').click(); // leaves the editor so the form takes its value
    await shot(page, 'web-ui-1-start-form');
    await page.getByTestId('start-workflow-button').click();
    await waitFor(
      'the run started from the UI',
      () =>
        env.client.workflow
          .getHandle(runA)
          .describe()
          .then((d) => d.runId),
      {
        timeoutMs: 30_000,
      },
    );

    // etcd-stretch watch, its stdout a pipe: plain lines until the run ends.
    const watch = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'client', 'cli.ts'), 'watch', runA, '--interval', '300'],
      {
        env: { ...process.env, TEMPORAL_ADDRESS: env.address },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let watchOut = '';
    watch.stdout.on('data', (c: Buffer) => (watchOut += c.toString()));
    const watchExit = new Promise<number | null>((r) => watch.once('exit', r));

    const atGate = await untilStatus(
      'run A at the expose gate',
      () => status(runA),
      (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'expose',
    );
    // A gate opens its phase: the run is in phase expose, at its first step, the gate.
    expect(atGate.phase).toBe('expose');
    expect(atGate.step?.id).toBe('gate/expose');

    await openWorkflowPage(page, runA);
    await page.locator('button:visible', { hasText: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    // The UI lists the signals the workflow defines (it asks the running worker): pick `approve`.
    const dialog = page.locator('dialog[open]');
    await dialog.getByTestId('signal-select-button').click();
    await dialog.getByRole('option', { name: 'approve' }).click();
    await dialog.locator('[aria-label=Data]').click();
    await page.keyboard.insertText(
      JSON.stringify({ gate: 'expose', by: 'web-ui-test', comment: 'from the browser' }),
    );
    await page.keyboard.press('Tab'); // leaves the editor so the form takes its value
    await shot(page, 'web-ui-2-signal-form');
    await dialog.getByTestId('confirm-modal-button').click();

    const past = await untilStatus(
      'run A past the expose gate',
      () => status(runA),
      (s) =>
        s.plan?.steps.find((p) => p.id === 'gate/expose')?.state === 'done' && s.step?.id !== 'gate/expose',
      60_000,
    );
    expect(past.approvals.find((a) => a.gate === 'expose')).toMatchObject({
      by: 'web-ui-test',
      comment: 'from the browser',
    });
    expect(past.approvals.find((a) => a.gate === 'expose')?.mode).toBe('manual');
    expect(['expose', 'dns', 'join']).toContain(past.phase);
    expect(past.workflowState).not.toBe('waiting-approval');
    await openWorkflowPage(page, runA);
    await shot(page, 'web-ui-3-after-approval');

    // The new members joined (learners, then voters); at the leader gate, abort with the Temporal
    // CLI: the rollback removes them. (Not mid-join: an abort that cancels a learner's addition
    // can leave that learner in the cluster, a known gap of the rollback.)
    const atLeader = await untilStatus(
      'run A at the leader gate',
      () => status(runA),
      (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'leader',
    );
    const newMembers = atLeader.members.filter((m) => m.side === 'target');
    expect(newMembers.map((m) => m.name).sort()).toEqual([0, 1, 2].map((i) => `${targetName(ns)}-${i}`));
    joined.added = newMembers.length;
    joined.promoted = newMembers.filter((m) => !m.isLearner).length;
    expect(joined.promoted).toBeGreaterThanOrEqual(2);
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      runA,
      '--name',
      'abort',
      '--input',
      JSON.stringify({ by: 'operator-test', reason: 'stop before the leader moves' }),
    );
    const result = (await env.client.workflow.getHandle(runA).result()) as { outcome: string };
    expect(result.outcome).toBe('aborted');
    runIds[runA] = (await env.client.workflow.getHandle(runA).describe()).runId;
    const final = await status(runA);
    expect(final.members.every((m) => m.side === 'source' && !m.isLearner)).toBe(true);
    expect(final.compensations.every((c) => c.state === 'done')).toBe(true);
    await openWorkflowPage(page, runA);
    await page.getByText('Completed').first().waitFor();
    // The timeline names each activity's plan step (its summary), here what an undo reverses: the
    // add-learner step's title. The UI shortens a long label to the room it has: the title's start
    // is matched. Descending, the timeline renders its newest rows (the rollback's) in view; the
    // forward steps' summaries are checked in the history (test/workflow/web-ui-metadata.test.ts).
    const firstLearner = `${targetName(ns)}-0`;
    const addStep = final.plan!.steps.find((p) => p.kind === 'add-learner' && p.title.includes(firstLearner));
    expect(addStep?.title).toMatch(new RegExp(`^add ${firstLearner} as a learner`));
    try {
      await page
        .getByText(`removeLearner • undo: add ${firstLearner}`)
        .first()
        .waitFor({ state: 'attached' });
    } catch (err) {
      await shot(page, 'web-ui-timeline-without-summary');
      throw err;
    }
    await shot(page, 'web-ui-4-aborted');
    await page.close();

    expect(await watchExit).toBe(EXIT.aborted); // watch exits with the run's ending
    fs.writeFileSync(path.join(REPO_ROOT, 'reports', 'operator-watch.txt'), watchOut);
    expect(watchOut).not.toContain('\x1b[');
    const lines = watchOut.split('\n');
    expect(
      lines.some((l) => /^\S+Z waiting-approval \| phase expose \| .*waiting for approval: expose/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => new RegExp(`${targetName(ns)}-0=learner`).test(l))).toBe(true);
    expect(lines.some((l) => /rolling-back \| .*rollback \d+\/\d+/.test(l))).toBe(true);
    expect(watchOut).toContain(`${runA}: aborted`);
    expect(watchOut).toContain('approved expose by web-ui-test');
  });

  it('Temporal CLI only: start --input-file, query, signal, show; the guard refuses a learner and the run rolls back', async () => {
    const input = path.join(scratchDir, 'input.json');
    fs.writeFileSync(input, JSON.stringify({ spec: specFor(ns, ['join', 'switch-clients']) }));
    await temporal(
      'workflow',
      'start',
      '--type',
      'etcdMigration',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      runB,
      '--input-file',
      input,
    );
    const atJoin = await untilStatus(
      'run B at the join gate (temporal workflow query)',
      () => queryByCli(runB),
      (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'join',
    );
    expect(atJoin.waitingFor).toMatchObject({ kind: 'approval', gate: 'join' });

    // The update refuses an approval for a gate that is not waiting (a signal would be ignored).
    const refusedUpdate = await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      runB,
      '--name',
      'approveGate',
      '--input',
      JSON.stringify({ gate: 'cleanup', by: 'cli-operator' }),
    ).then(
      (out) => `accepted: ${out}`,
      (err: Error & { stderr?: string }) => `${err.message}\n${err.stderr ?? ''}`,
    );
    expect(refusedUpdate).toContain('gate cleanup is not waiting for approval (waiting at join)');
    // Runs by phase, through the search attribute the workflow keeps (visibility lags a little).
    const listed = await waitFor(
      'run B listed by phase',
      async () => {
        const out = await temporal(
          'workflow',
          'list',
          '--query',
          `EtcdMigrationPhase='join' AND WorkflowId='${runB}'`,
          '--output',
          'json',
        );
        const runs = out.trim() ? (JSON.parse(out) as { execution?: { workflowId?: string } }[]) : [];
        return runs.length > 0 ? runs : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(listed.map((r) => r.execution?.workflowId)).toEqual([runB]);

    // Someone else adds a learner behind the workflow's back (after preflight, which refuses one).
    const etcd = new Etcd3({ hosts: sourceEndpoints });
    let foreign: string;
    try {
      foreign = (await etcd.cluster.memberAdd({ peerURLs: ['http://198.18.1.250:2380'], isLearner: true }))
        .member.ID;
    } finally {
      etcd.close();
    }
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      runB,
      '--name',
      'approve',
      '--input',
      JSON.stringify({ gate: 'join', by: 'cli-operator' }),
    );
    const rolledBack = await untilStatus(
      'run B rolled back',
      () => queryByCli(runB),
      (s) => s.workflowState === 'rolled-back',
    );
    expect(rolledBack.error).toContain('safety guard refused');
    expect(rolledBack.approvals.find((a) => a.gate === 'join')).toMatchObject({ by: 'cli-operator' });

    const history = JSON.parse(
      await temporal('workflow', 'show', '--workflow-id', runB, '--output', 'json'),
    ) as {
      events: {
        eventType: string;
        activityTaskFailedEventAttributes?: {
          failure?: { applicationFailureInfo?: { type?: string } };
        };
      }[];
    };
    const types = history.events.map((e) => e.eventType);
    expect(types[0]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    expect(types).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    expect(types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    expect(
      history.events.some(
        (e) =>
          e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type ===
          'LearnerAlreadyPresent',
      ),
    ).toBe(true);
    runIds[runB] = (await env.client.workflow.getHandle(runB).describe()).runId;

    const cleanup = new Etcd3({ hosts: sourceEndpoints });
    try {
      await cleanup.cluster.memberRemove({ ID: foreign });
    } finally {
      cleanup.close();
    }
  });

  it("worker /metrics: the Temporal runtime's and ours, with what the two runs did", async () => {
    const text = await (await fetch(metricsUrl)).text();
    const value = (name: string, labels: Record<string, string>): number => {
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
        );
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    fs.writeFileSync(path.join(REPO_ROOT, 'reports', 'operator-metrics.txt'), text);
    // Temporal's own (prefix temporal_).
    expect(
      value('temporal_workflow_task_execution_latency_count', { task_queue: taskQueue }),
    ).toBeGreaterThan(0);
    expect(
      value('temporal_activity_execution_latency_count', { activity_type: 'preflight' }),
    ).toBeGreaterThan(0);
    // Ours: membership changes (run A added three members, its rollback removed them), the guard's refusal (run B).
    expect(joined.added).toBe(3);
    expect(value('etcd_stretch_membership_changes', { change: 'add-learner' })).toBe(joined.added);
    expect(value('etcd_stretch_membership_changes', { change: 'promote' })).toBe(joined.promoted);
    expect(value('etcd_stretch_membership_changes', { change: 'remove-learner' })).toBe(joined.added);
    expect(value('etcd_stretch_guard_refusals', { reason: 'LearnerAlreadyPresent' })).toBe(1);
    // Phase durations from the workflow, and how the runs ended.
    expect(value('etcd_stretch_phase_duration_count', { phase: 'preflight' })).toBe(2);
    expect(value('etcd_stretch_phase_duration_count', { phase: 'shrink' })).toBe(2);
    expect(value('etcd_stretch_phase_duration_sum', { phase: 'shrink' })).toBeGreaterThan(0);
    expect(value('etcd_stretch_migrations_finished', { outcome: 'aborted' })).toBe(1);
    expect(value('etcd_stretch_migrations_finished', { outcome: 'rolled-back' })).toBe(1);
    // Gauges: each learner's lag while its catch-up was awaited, back to 0 once the wait ended;
    // the running migrations, sampled from Temporal while the runs went on.
    const sampled = (name: string, labels: Record<string, string>) =>
      text
        .split('\n')
        .some(
          (l) =>
            l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
        );
    for (let i = 0; i < joined.added; i++) {
      expect(sampled('etcd_stretch_learner_lag_entries', { member: `${targetName(ns)}-${i}` })).toBe(true);
      expect(value('etcd_stretch_learner_lag_entries', { member: `${targetName(ns)}-${i}` })).toBe(0);
    }
    expect(sampled('etcd_stretch_migrations', {})).toBe(true);
  });

  it('worker logs: JSON lines with level, time, message, workflow and run IDs, activity type', () => {
    fs.writeFileSync(
      path.join(REPO_ROOT, 'reports', 'operator-worker-log.jsonl'),
      workerLines.join('\n') + '\n',
    );
    const entries = workerLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) {
      expect(typeof e.time).toBe('string');
      expect(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(e.level);
      expect(typeof e.msg).toBe('string');
    }
    const phaseLine = entries.find(
      (e) => e.msg === 'phase started' && e.workflowId === runA && e.phase === 'expose',
    );
    expect(phaseLine).toMatchObject({
      level: 'INFO',
      runId: runIds[runA],
      workflowType: 'etcdMigration',
      taskQueue,
    });
    const refused = entries.find(
      (e) => e.workflowId === runB && e.activityType === 'addLearner' && e.level === 'WARN',
    );
    expect(refused, 'the failed addLearner activity of run B').toMatchObject({ workflowRunId: runIds[runB] });
    expect(JSON.stringify(refused)).toContain('LearnerAlreadyPresent');
    expect(entries.find((e) => e.msg === 'rolling back' && e.workflowId === runB)).toMatchObject({
      level: 'WARN',
      runId: runIds[runB],
    });
  });
});
