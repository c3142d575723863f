/**
 * etcd-stretch CLI: start / plan / approve / pause / resume / abort / status / watch,
 * built on the workflow's shared message definitions. Temporal connection from the
 * environment (see worker/temporal-connection.ts).
 */
import os from 'node:os';
import { Command, Option } from 'commander';
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import {
  abortSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  WORKFLOW_TYPE,
} from '../workflows/messages.js';
import type { etcdMigration } from '../workflows/migration-workflow.js';
import { assumedSourceMembers, planMigration } from '../core/planner/plan.js';
import { formatPlan } from '../core/planner/format-plan.js';
import { GATE_NAMES, type GateName, type MigrationSpec } from '../core/spec/schema.js';
import { temporalSettings } from '../worker/temporal-connection.js';
import { dataConverterFromEnvironment, payloadCodecFromEnvironment } from '../worker/payload-codec.js';
import { loadMigrationSpecFile } from './spec-file.js';
import { renderStatus } from './render-status.js';

function who(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

async function connect(): Promise<{ client: Client; close: () => Promise<void> }> {
  const s = temporalSettings();
  const connection = await Connection.connect({ address: s.address, tls: s.tls as never, apiKey: s.apiKey });
  const dataConverter = dataConverterFromEnvironment();
  return {
    client: new Client({ connection, namespace: s.namespace, ...(dataConverter ? { dataConverter } : {}) }),
    close: () => connection.close(),
  };
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connect();
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

export function defaultWorkflowId(spec: MigrationSpec): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return `etcd-migration-${spec.source.context}-${spec.source.statefulSet}-to-${spec.target.context}-${spec.target.statefulSet}-${stamp}`;
}

function fail(err: unknown): never {
  const message =
    err instanceof WorkflowUpdateFailedError
      ? (err.cause?.message ?? err.message)
      : err instanceof Error
        ? err.message
        : String(err);
  process.stderr.write(`etcd-stretch: ${message}\n`);
  process.exit(1);
}

const program = new Command('etcd-stretch').description(
  'Move a live etcd between Kubernetes clusters by stretching it',
);

program
  .command('plan')
  .description('print the migration plan (dry run; nothing changes)')
  .argument('<spec>', 'migration spec file (YAML or JSON)')
  .option('--offline', 'do not read the live cluster: assume the source members are <statefulSet>-0..N-1')
  .option('--source-replicas <n>', 'with --offline: how many source members', '3')
  .action(async (file: string, opts: { offline?: boolean; sourceReplicas: string }) => {
    const spec = await loadMigrationSpecFile(file).catch(fail);
    let members;
    if (opts.offline) {
      members = assumedSourceMembers(spec, Number(opts.sourceReplicas));
    } else {
      const { observeSourceForPlan } = await import('../activities/migration/plan-observation.js');
      members = await observeSourceForPlan(spec).catch(fail);
    }
    try {
      process.stdout.write(formatPlan(planMigration({ spec, observed: { members } })) + '\n');
    } catch (err) {
      fail(err);
    }
  });

program
  .command('start')
  .description('start a migration')
  .argument('<spec>', 'migration spec file (YAML or JSON)')
  .option('--id <workflowId>', 'workflow ID (default: derived from the spec and the time)')
  .option(
    '--no-worker-check',
    'start even if no worker polls a task queue the spec needs (workers that start later)',
  )
  .action(async (file: string, opts: { id?: string; workerCheck: boolean }) => {
    const spec = await loadMigrationSpecFile(file).catch(fail);
    const settings = temporalSettings();
    const id = opts.id ?? defaultWorkflowId(spec);
    await withClient(async (client) => {
      if (opts.workerCheck) {
        const { missingWorkers, workerCheckRefusal } = await import('./worker-check.js');
        const refusal = workerCheckRefusal(spec, await missingWorkers(client, spec, settings.taskQueue));
        if (refusal) throw new Error(refusal);
      }
      const handle = await client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
        taskQueue: settings.taskQueue,
        workflowId: id,
        args: [{ spec }],
      });
      process.stdout.write(
        `started ${handle.workflowId}\nwatch it:   etcd-stretch watch ${handle.workflowId}\n`,
      );
    }).catch(fail);
  });

program
  .command('approve')
  .description('approve the gate a migration waits at')
  .argument('<workflowId>')
  .addArgument(new Command().createArgument('<gate>', 'gate name').choices(GATE_NAMES))
  .option('--by <name>', 'who approves', who())
  .option('--comment <text>')
  .action(async (id: string, gate: GateName, opts: { by: string; comment?: string }) => {
    await withClient(async (client) => {
      const r = await client.workflow
        .getHandle(id)
        .executeUpdate(approveUpdate, { args: [{ gate, by: opts.by, comment: opts.comment }] });
      process.stdout.write(`approved ${r.gate} as ${opts.by}\n`);
    }).catch(fail);
  });

program
  .command('pause')
  .argument('<workflowId>')
  .option('--by <name>', 'who pauses', who())
  .option('--reason <text>')
  .description('pause before the next step')
  .action(async (id: string, opts: { by: string; reason?: string }) => {
    await withClient((c) =>
      c.workflow.getHandle(id).signal(pauseSignal, { by: opts.by, reason: opts.reason }),
    ).catch(fail);
    process.stdout.write('pause requested: the migration stops before its next step\n');
  });

program
  .command('resume')
  .argument('<workflowId>')
  .option('--by <name>', 'who resumes', who())
  .action(async (id: string, opts: { by: string }) => {
    await withClient((c) => c.workflow.getHandle(id).signal(resumeSignal, { by: opts.by })).catch(fail);
    process.stdout.write('resumed\n');
  });

program
  .command('abort')
  .argument('<workflowId>')
  .addOption(new Option('--reason <text>', 'why (recorded in the history)').makeOptionMandatory())
  .option('--by <name>', 'who aborts', who())
  .description(
    'abort: before the client switch everything is rolled back; after it, the run stops at a safe point',
  )
  .action(async (id: string, opts: { by: string; reason: string }) => {
    await withClient((c) =>
      c.workflow.getHandle(id).signal(abortSignal, { by: opts.by, reason: opts.reason }),
    ).catch(fail);
    process.stdout.write('abort requested\n');
  });

program
  .command('status')
  .argument('<workflowId>')
  .option('--json', 'the raw status as JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    await withClient(async (c) => {
      const status = await c.workflow.getHandle(id).query(statusQuery);
      process.stdout.write(
        opts.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(id, status) + '\n',
      );
    }).catch(fail);
  });

program
  .command('watch')
  .argument('<workflowId>')
  .option('--interval <ms>', 'poll interval', '1000')
  .description('live progress until the migration ends')
  .action(async (id: string, opts: { interval: string }) => {
    const { watchMigration } = await import('./watch.js');
    await withClient((c) => watchMigration(c, id, Number(opts.interval))).catch(fail);
  });

// --- audit (client/audit/): a run's history -> reports/audit-<workflowId>.md and .html ---------
program
  .command('audit')
  .description("turn a run's history into a Markdown and an HTML audit report")
  .argument('[workflowId]', 'the run to audit (its history is fetched from Temporal)')
  .option('--history <file>', 'read a history exported with `temporal workflow show --output json` instead')
  .option('--run-id <runId>', 'a specific run of the workflow ID')
  .option('--out <dir>', 'where to write the reports', 'reports')
  .action(async (id: string | undefined, opts: { history?: string; runId?: string; out: string }) => {
    const { runAudit } = await import('./audit/index.js');
    const { report, files } = await (async () =>
      runAudit({
        workflowId: id,
        runId: opts.runId,
        historyFile: opts.history,
        outDir: opts.out,
        connect,
        codec: payloadCodecFromEnvironment(),
      }))().catch(fail);
    process.stdout.write(
      `audit of ${report.workflowId}: ${report.outcome.status}\n  ${files.markdown}\n  ${files.html}\n`,
    );
  });
// --- end of audit ---------------------------------------------------------------------------

// --- codec server: lets the Temporal Web UI / CLI read encrypted payloads ----------------------
program
  .command('codec-server')
  .description(
    'decode encrypted payloads for the Temporal Web UI (--ui-codec-endpoint) and CLI (--codec-endpoint)',
  )
  .option('--port <port>', 'port to listen on', '8888')
  .option('--host <host>', 'address to listen on (whoever reaches it reads every payload)', '127.0.0.1')
  .option('--ui-origin <origin>', 'the Web UI origin allowed by CORS', 'http://localhost:8233')
  .option('--token-env <name>', 'require Authorization: Bearer <value of this environment variable>')
  .action(async (opts: { port: string; host: string; uiOrigin: string; tokenEnv?: string }) => {
    const codec = payloadCodecFromEnvironment();
    if (!codec)
      fail(new Error("set ETCD_STRETCH_PAYLOAD_KEY or ETCD_STRETCH_PAYLOAD_KEY_FILE (the worker's key)"));
    const token = opts.tokenEnv ? process.env[opts.tokenEnv] : undefined;
    if (opts.tokenEnv && !token) fail(new Error(`${opts.tokenEnv} is not set`));
    const { startCodecServer } = await import('../worker/codec-server.js');
    const { url } = await startCodecServer({
      codec: codec,
      port: Number(opts.port),
      host: opts.host,
      uiOrigin: opts.uiOrigin,
      ...(token ? { token } : {}),
    }).catch(fail);
    process.stdout.write(`codec server on ${url} (POST /decode, /encode); UI origin ${opts.uiOrigin}\n`);
  });

await program.parseAsync();
