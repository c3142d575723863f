/**
 * The resume runs (docs/resume.md): the first run of the acceptance scenario ends past the client
 * switch without finishing, failed by an injected fault (a) or stopped by an abort (b); a second
 * run of the same spec in resume mode finishes it, under the same live load client.
 */
import { expect } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createMigrationActivities } from '../../activities/migration/index.js';
import type { MigrationActivities } from '../../core/activity-contract.js';
import { abortSignal } from '../../workflows/messages.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import { runAcceptanceScenario, type ScenarioContext, type ScenarioReport } from './acceptance.js';
import { expectCompletedSafely } from './fault-expectations.js';
import { workflowBundle } from './temporal-test-env.js';
import type { WorkerHost } from './worker-hosts.js';

/** Not what these runs are about: the shrink phase's leader moves cost time, not coverage. */
const SPEC = { shrink: { enabled: false } };

/** The in-process worker, except that its first scaleSource refuses before it scales anything. */
function scaleSourceRefusedOnce(env: TestWorkflowEnvironment, seen: { refusedAt?: string }): WorkerHost {
  return {
    async run(taskQueue, _workflowId, fn) {
      const real = createMigrationActivities({ kubeconfig: kubeconfigPath() });
      const activities: MigrationActivities = {
        ...real,
        scaleSource: async (input) => {
          if (!seen.refusedAt) {
            seen.refusedAt = new Date().toISOString();
            throw ApplicationFailure.nonRetryable(
              'injected fault: the source API server refused the scale-down',
              'PreconditionFailed',
            );
          }
          return real.scaleSource(input);
        },
      };
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities,
      });
      return worker.runUntil(fn);
    },
  };
}

/** (a) The first run fails at retire/etcd-2/scale-source: etcd-2 was removed, its pod still runs. */
export async function resumeAfterFailure(env: TestWorkflowEnvironment): Promise<ScenarioReport> {
  const seen: { refusedAt?: string } = {};
  // Bundled before the load client starts: bundling in this process would starve its timers.
  await workflowBundle();
  const r = await runAcceptanceScenario({
    client: env.client,
    workers: scaleSourceRefusedOnce(env, seen),
    resume: true,
    keys: 200,
    specOverrides: SPEC,
  });
  expect(seen.refusedAt).toBeDefined();
  expect(r.firstRun?.outcome).toBe('failed');
  expect(r.firstRun?.reason).toContain('failed after the client switch at retire/etcd-2/scale-source');
  expect(r.firstRun?.reason).toContain('etcd-stretch start --resume <spec>');
  return r;
}

/**
 * (b) The first run is aborted once etcd-2 was removed and stops at a safe point. `asOperator`:
 * as two clouds run it (a worker per cluster, the WAN link, slow DNS, hostname load balancers),
 * and resumed through the CLI, `etcd-stretch start --resume <spec> --watch`, which must exit 0.
 */
export async function resumeAfterAbort(
  env: TestWorkflowEnvironment,
  opts: { asOperator?: boolean } = {},
): Promise<ScenarioReport> {
  let aborted = false;
  let run: ScenarioContext | undefined;
  const abort = async () => {
    aborted = true;
    await run!.handle.signal(abortSignal, { by: 'fault-test', reason: 'stop past the switch' });
    run!.say('aborted after etcd-2 was removed');
  };
  // The in-process worker aborts as etcd-1's removal starts: a whole retire takes about two
  // seconds here, and a status poll could come after it. Per-cluster workers run elsewhere, so
  // there a poll sees etcd-2's removal done (their retire takes longer, over the WAN link).
  const where = opts.asOperator
    ? { perCluster: { address: env.address }, resumeThroughCli: { address: env.address } }
    : {
        connection: env.nativeConnection,
        beforeStep: async (stepId: string) => {
          if (!aborted && stepId === 'retire/etcd-1/remove-member') await abort();
        },
      };
  const r = await runAcceptanceScenario({
    client: env.client,
    ...where,
    onStatusAfterSwitch: true,
    resume: true,
    keys: 200,
    specOverrides: SPEC,
    onStatus: async (ctx) => {
      run = ctx;
      if (aborted || !opts.asOperator) return;
      const removed = ctx.status.plan?.steps.find((s) => s.id === 'retire/etcd-2/remove-member');
      if (removed?.state === 'done') await abort();
    },
  });
  expect(aborted).toBe(true);
  expect(r.firstRun?.outcome).toBe('stopped');
  expect(r.firstRun?.reason).toContain('etcd-stretch start --resume <spec>');
  if (opts.asOperator) {
    expect(r.topology.workers.map((w) => w.cluster)).toEqual(['source', 'target']);
    expect(r.firstRun?.cliExitCode, 'etcd-stretch start --resume --watch exit code').toBe(0);
  }
  return r;
}

/** The resumed run completed as a run that never stopped would, without redoing the first run's work. */
export function expectFinishedByResume(r: ScenarioReport): void {
  expectCompletedSafely(r);
  const steps = r.status.plan!.steps;
  expect(steps.every((s) => s.state === 'done')).toBe(true);
  const adopted = steps.filter((s) => s.note?.includes('adopted')).map((s) => s.id);
  expect(adopted).toEqual(expect.arrayContaining(['gate/switch-clients', 'retire/etcd-2/remove-member']));
  // The resumed run did the rest: at least the last removal (an abort may land a removal late).
  expect(adopted).not.toContain('retire/etcd-0/remove-member');
  // The source cleaned up as by a completed run, its PVCs kept.
  const cleanup = steps.find((s) => s.kind === 'cleanup-source-statefulset');
  expect(cleanup?.state).toBe('done');
  expect(cleanup?.note ?? '').not.toContain('adopted');
  expect(r.sourcePvcsRetained).toBe(true);
}
