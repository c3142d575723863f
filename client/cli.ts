/**
 * etcd-stretch CLI (docs/cli.md): plan / start / list / status / watch / approve / pause /
 * resume / abort / audit / codec-server, built on the workflow's shared message definitions.
 * Temporal connection as the Temporal CLI's (profiles, TEMPORAL_*, --address / --namespace);
 * `--output json` on every command that prints; exit codes in client/exit-codes.ts.
 */
import os from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  abortSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  WORKFLOW_TYPE,
} from '../workflows/messages.js';
import { assumedSourceMembers, planMigration } from '../core/planner/plan.js';
import { formatPlan } from '../core/planner/format-plan.js';
import { PHASES, type PhaseName } from '../core/planner/plan-types.js';
import { GATE_NAMES, type GateName } from '../core/spec/schema.js';
import type { TemporalOverrides } from '../worker/temporal-connection.js';
import { payloadCodecFromEnvironment } from '../worker/payload-codec.js';
import { EXIT } from './exit-codes.js';
import { LIST_STATES, listMigrations, renderMigrationList, type ListState } from './list-migrations.js';
import { loadMigrationSpecFile } from './spec-file.js';
import { renderStatus } from './render-status.js';
import { connectClient, withClient } from './temporal-client.js';
import { packageVersion } from './version.js';
import { migrationWorkflowId } from '../core/workflow-id.js';

type OutputFormat = 'text' | 'json';

interface GlobalOptions extends TemporalOverrides {
  output: OutputFormat;
}

function who(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

function fail(err: unknown): never {
  const message =
    err instanceof WorkflowUpdateFailedError
      ? (err.cause?.message ?? err.message)
      : err instanceof Error
        ? err.message
        : String(err);
  process.stderr.write(`etcd-stretch: ${message}\n`);
  process.exit(EXIT.error);
}

const program = new Command('etcd-stretch')
  .description('Move a live etcd between Kubernetes clusters by stretching it (docs/cli.md)')
  .version(packageVersion(), '-v, --version', 'print the version')
  // Usage errors exit 2 (below), not commander's 1: 1 is a command that failed.
  .exitOverride()
  .configureHelp({ showGlobalOptions: true })
  .addOption(new Option('--address <host:port>', 'Temporal frontend (over TEMPORAL_ADDRESS and the profile)'))
  .addOption(
    new Option('-n, --namespace <namespace>', 'Temporal namespace (over TEMPORAL_NAMESPACE and the profile)'),
  )
  .addOption(
    new Option(
      '--profile <name>',
      'profile of the Temporal config file (over TEMPORAL_PROFILE; default "default")',
    ),
  )
  .addOption(
    new Option(
      '--config-file <path>',
      'Temporal config file (over TEMPORAL_CONFIG_FILE; default ~/.config/temporalio/temporal.toml)',
    ),
  )
  .addOption(
    new Option('-o, --output <format>', 'text, or json for scripts')
      .choices(['text', 'json'])
      .default('text'),
  );

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

function overrides(): TemporalOverrides {
  const { address, namespace, profile, configFile } = globals();
  return { address, namespace, profile, configFile };
}

/** Prints `text`, or with `--output json` the JSON of `data`. */
function print(text: string, data: unknown): void {
  process.stdout.write(globals().output === 'json' ? JSON.stringify(data, null, 2) + '\n' : text + '\n');
}

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
      const plan = planMigration({ spec, observed: { members } });
      print(formatPlan(plan), { workflowId: migrationWorkflowId(spec), plan });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('start')
  .description(
    'start a migration; refused while a run of the same source and target is open (its workflow ID is derived from them)',
  )
  .argument('<spec>', 'migration spec file (YAML or JSON)')
  .option('--id <workflowId>', 'workflow ID (default: etcd-stretch-<source>-to-<target>, from the spec)')
  .option(
    '--no-worker-check',
    'start even if no worker polls a task queue the spec needs (workers that start later)',
  )
  .option('--resume', 'finish what an earlier run of this migration left (docs/resume.md)')
  .option('--watch', 'watch the run until it ends; exit with its exit code (as `watch`)')
  .option('--interval <ms>', 'with --watch: poll interval', '1000')
  .action(
    async (
      file: string,
      opts: { id?: string; workerCheck: boolean; resume?: boolean; watch?: boolean; interval: string },
    ) => {
      const spec = await loadMigrationSpecFile(file).catch(fail);
      const workflowId = opts.id ?? migrationWorkflowId(spec);
      const { startMigrationRun } = await import('./start-migration.js');
      const code = await withClient(overrides(), async ({ client, settings }) => {
        const started = await startMigrationRun(client, {
          workflowId,
          taskQueue: settings.taskQueue,
          input: { spec, ...(opts.resume ? { resume: true } : {}) },
          beforeStart: async () => {
            if (!opts.workerCheck) return;
            const { missingWorkers, workerCheckRefusal } = await import('./worker-check.js');
            const refusal = workerCheckRefusal(spec, await missingWorkers(client, spec, settings.taskQueue));
            if (refusal) throw new Error(refusal);
          },
        });
        const data = { ...started, namespace: settings.namespace };
        // With --watch, JSON Lines throughout: this line, then watch's.
        if (opts.watch && globals().output === 'json')
          process.stdout.write(JSON.stringify({ type: 'started', ...data }) + '\n');
        else
          print(`started ${started.workflowId}\nwatch it:   etcd-stretch watch ${started.workflowId}`, data);
        if (!opts.watch) return EXIT.ok;
        const { watchMigration } = await import('./watch.js');
        const watched = await watchMigration(client, started.workflowId, {
          intervalMs: Number(opts.interval),
          runId: started.runId,
          output: globals().output,
        });
        return watched.exitCode;
      }).catch(fail);
      process.exit(code);
    },
  );

program
  .command('list')
  .description('list migrations, newest first: state, phase and what each waits for')
  .addOption(
    new Option('--state <state>', 'only runs in this state (terminated: ended in Temporal)').choices(
      LIST_STATES,
    ),
  )
  .addOption(new Option('--phase <phase>', 'only runs in this phase').choices(PHASES))
  .option('--waiting [gate]', 'only runs waiting for approval (at this gate, or at any)')
  .option('--limit <n>', 'at most this many runs', '50')
  .action(async (opts: { state?: ListState; phase?: PhaseName; waiting?: string | true; limit: string }) => {
    if (typeof opts.waiting === 'string' && !(GATE_NAMES as readonly string[]).includes(opts.waiting))
      fail(new Error(`--waiting: no gate "${opts.waiting}" (gates: ${GATE_NAMES.join(', ')})`));
    const rows = await withClient(overrides(), ({ client, connection }) =>
      listMigrations(client, connection, WORKFLOW_TYPE, {
        ...(opts.state ? { state: opts.state } : {}),
        ...(opts.phase ? { phase: opts.phase } : {}),
        ...(opts.waiting ? { waiting: opts.waiting as GateName | true } : {}),
        limit: Number(opts.limit),
      }),
    ).catch(fail);
    print(renderMigrationList(rows), rows);
  });

program
  .command('status')
  .description("a run's status: state, phase, plan steps, members, what it waits for")
  .argument('<workflowId>', 'the run (etcd-stretch list shows them)')
  .addOption(new Option('--json', 'same as --output json').hideHelp())
  .action(async (id: string, opts: { json?: boolean }) => {
    await withClient(overrides(), async ({ client }) => {
      const status = await client.workflow.getHandle(id).query(statusQuery);
      if (opts.json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
      else print(renderStatus(id, status, { namespace: client.options.namespace }), status);
    }).catch(fail);
  });

program
  .command('watch')
  .description(
    'live progress until the run ends; exits 0 if it completed, else 3 failed, 4 rolled back, 5 aborted, 6 stopped, 7 terminated',
  )
  .argument('<workflowId>', 'the run (etcd-stretch list shows them)')
  .option('--run-id <runId>', 'a specific run of the workflow ID (default: its latest)')
  .option('--interval <ms>', 'poll interval', '1000')
  .action(async (id: string, opts: { interval: string; runId?: string }) => {
    const { watchMigration } = await import('./watch.js');
    const watched = await withClient(overrides(), ({ client }) =>
      watchMigration(client, id, {
        intervalMs: Number(opts.interval),
        ...(opts.runId ? { runId: opts.runId } : {}),
        output: globals().output,
      }),
    ).catch(fail);
    process.exit(watched.exitCode);
  });

program
  .command('approve')
  .description('approve the gate a migration waits at (refused if it waits at another)')
  .argument('<workflowId>', 'the run')
  .addArgument(new Command().createArgument('<gate>', 'gate name').choices(GATE_NAMES))
  .option('--by <name>', 'who approves', who())
  .option('--comment <text>', 'why (recorded in the history)')
  .action(async (id: string, gate: GateName, opts: { by: string; comment?: string }) => {
    await withClient(overrides(), async ({ client }) => {
      const r = await client.workflow
        .getHandle(id)
        .executeUpdate(approveUpdate, { args: [{ gate, by: opts.by, comment: opts.comment }] });
      print(`approved ${r.gate} as ${opts.by}`, { workflowId: id, approved: r.gate, by: opts.by });
    }).catch(fail);
  });

program
  .command('pause')
  .description('pause before the next step')
  .argument('<workflowId>', 'the run')
  .option('--by <name>', 'who pauses', who())
  .option('--reason <text>', 'why (recorded in the history)')
  .action(async (id: string, opts: { by: string; reason?: string }) => {
    await withClient(overrides(), ({ client }) =>
      client.workflow.getHandle(id).signal(pauseSignal, { by: opts.by, reason: opts.reason }),
    ).catch(fail);
    print('pause requested: the migration stops before its next step', {
      workflowId: id,
      requested: 'pause',
      by: opts.by,
    });
  });

program
  .command('resume')
  .description('go on after a pause')
  .argument('<workflowId>', 'the run')
  .option('--by <name>', 'who resumes', who())
  .action(async (id: string, opts: { by: string }) => {
    await withClient(overrides(), ({ client }) =>
      client.workflow.getHandle(id).signal(resumeSignal, { by: opts.by }),
    ).catch(fail);
    print('resumed', { workflowId: id, requested: 'resume', by: opts.by });
  });

program
  .command('abort')
  .description(
    'abort: before the client switch everything is rolled back; after it, the run stops at a safe point',
  )
  .argument('<workflowId>', 'the run')
  .addOption(new Option('--reason <text>', 'why (recorded in the history)').makeOptionMandatory())
  .option('--by <name>', 'who aborts', who())
  .action(async (id: string, opts: { by: string; reason: string }) => {
    await withClient(overrides(), ({ client }) =>
      client.workflow.getHandle(id).signal(abortSignal, { by: opts.by, reason: opts.reason }),
    ).catch(fail);
    print('abort requested', { workflowId: id, requested: 'abort', by: opts.by, reason: opts.reason });
  });

// --- audit (client/audit/): a run's history -> reports/audit-<workflowId>.md and .html ---------
program
  .command('audit')
  .description("turn a run's history into a Markdown and an HTML audit report")
  .argument('[workflowId]', 'the run to audit (its history is fetched from Temporal)')
  .option('--history <file>', 'read a history exported with `temporal workflow show --output json` instead')
  .option('--run-id <runId>', 'a specific run of the workflow ID')
  .option('--out <dir>', 'where to write the reports', 'reports')
  .option(
    '--ui-url <url>',
    'the Temporal Web UI address, for a link to the run in the report (default: ETCD_STRETCH_UI_URL)',
  )
  .action(
    async (
      id: string | undefined,
      opts: { history?: string; runId?: string; out: string; uiUrl?: string },
    ) => {
      const { runAudit } = await import('./audit/index.js');
      const { report, files } = await (async () =>
        runAudit({
          workflowId: id,
          runId: opts.runId,
          historyFile: opts.history,
          outDir: opts.out,
          ...(opts.uiUrl
            ? {
                ui: {
                  url: opts.uiUrl,
                  namespace: globals().namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
                },
              }
            : {}),
          connect: () => connectClient(overrides()),
          codec: payloadCodecFromEnvironment(),
        }))().catch(fail);
      print(`audit of ${report.workflowId}: ${report.outcome.status}\n  ${files.markdown}\n  ${files.html}`, {
        workflowId: report.workflowId,
        outcome: report.outcome.status,
        ...files,
      });
    },
  );
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
    print(`codec server on ${url} (POST /decode, /encode); UI origin ${opts.uiOrigin}`, {
      url,
      uiOrigin: opts.uiOrigin,
    });
  });

try {
  await program.parseAsync();
} catch (err) {
  // exitOverride: commander has printed the help, the version or what was wrong.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  throw err;
}
