/**
 * The migration workflow, as the migration is explained: handlers, validate, preflight, plan,
 * run the plan's phases, finish. Deterministic: all I/O is in activities (core/activity-contract.ts).
 */
import { patched, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { PreflightReport, SourceManifests } from '../core/activity-contract.js';
import { FailureType, SOURCE_PODS_NOT_READY } from '../core/failure-types.js';
import { planMigration } from '../core/planner/plan.js';
import type { MigrationPlan, Side } from '../core/planner/plan-types.js';
import type { MigrationSpec } from '../core/spec/schema.js';
import { formatSpecErrors, parseMigrationSpec } from '../core/spec/validate.js';
import { routedActivities, type RoutedActivities } from './activity-routing.js';
import { afterFailure, complete, stopAt, type MigrationResult } from './endings.js';
import { finishForward } from './finish-forward.js';
import { installHandlers } from './handlers.js';
import { MigrationRun } from './migration-run.js';
import { pickedUp } from './no-worker.js';
import { SETTLE_UNFINISHED_FORWARD_PATCH } from './patches.js';
import { runPhases } from './run-phases.js';
import { SOURCE_KEY, TARGET_KEY } from './search-attributes.js';
import { ms, type RunFacts } from './steps/step-context.js';

export type { MigrationResult } from './endings.js';
export { REGISTER_JOIN_UNDO_FIRST_PATCH, RETRY_FAILED_JOIN_PATCH } from './patches.js';

export interface MigrationInput {
  /** The migration spec (references only, no secrets); validated again here. */
  spec: unknown;
  /** Finish what an earlier run of this migration left: adopt its steps, run the rest (docs/resume.md). */
  resume?: boolean;
}

/** Thrown (after compensating) when a failure before the client switch rolled the migration back. */
export const ROLLED_BACK = FailureType.MigrationRolledBack;
/** Thrown when preflight finds a reason not to start; nothing was changed. */
export const PREFLIGHT_REFUSED = FailureType.PreflightRefused;

export async function etcdMigration(input: MigrationInput): Promise<MigrationResult> {
  const run = new MigrationRun();
  installHandlers(run);

  const spec = validate(run, input.spec);
  const facts = emptyFacts();
  const learned: { sourceManifests?: SourceManifests } = {};
  const acts = routedActivities(
    spec,
    {
      stepMs: ms(spec.deadlines.step),
      catchUpMs: ms(spec.deadlines.catchUp),
      loadBalancersMs: ms(spec.deadlines.loadBalancers),
      dnsMs: ms(spec.deadlines.dns),
      workerPickupMs: ms(spec.deadlines.workerPickup),
    },
    {
      addresses: () => facts.addresses,
      sourceManifests: () => learned.sourceManifests,
      clientsSwitched: () => run.clientsSwitched,
      notAnswering: () => run.clustersNotAnswering,
      stepTitle: (id) => run.progress.find((s) => s.id === id)?.title,
    },
  );
  upsertSearchAttributes([
    { key: SOURCE_KEY, value: `${spec.source.context}/${spec.source.namespace}/${spec.source.statefulSet}` },
    { key: TARGET_KEY, value: `${spec.target.context}/${spec.target.namespace}/${spec.target.statefulSet}` },
  ]);

  let report = await preflight(run, spec, acts, input.resume === true);
  if (report.unfinishedForward) {
    await finishForward(run, report.unfinishedForward);
    // Checked and planned again on the cluster as that run left it.
    report = await preflight(run, spec, acts, false, { settle: true });
  }
  learned.sourceManifests = report.sourceManifests;
  const plan = planOrRefuse(run, spec, report);
  for (const m of report.observed.members) if (m.id) facts.memberIds[m.name] = m.id;
  const ctx = { spec, plan, acts, run, facts };

  try {
    const stoppedAt = await runPhases(ctx);
    if (stoppedAt !== null) return await stopAt(ctx, stoppedAt);
  } catch (err) {
    return await afterFailure(ctx, err);
  }
  return await complete(ctx);
}

function validate(run: MigrationRun, raw: unknown): MigrationSpec {
  const parsed = parseMigrationSpec(raw);
  if (!parsed.ok) throw run.fail('invalid-spec', FailureType.InvalidSpec, formatSpecErrors(parsed.errors));
  return parsed.spec;
}

/** Nothing changes in preflight; any refusal ends the run before the first change. */
async function preflight(
  run: MigrationRun,
  spec: MigrationSpec,
  acts: RoutedActivities,
  resume: boolean,
  opts: { settle?: boolean } = {},
): Promise<PreflightReport> {
  run.enterPhase('preflight');
  let report = await askPreflight(run, spec, acts, resume);
  // `settle`: right after a child run finished the migration before this one, its last removals
  // can leave a source pod not Ready for a few seconds (the election they cause); and before that
  // run, the member the stopped migration promoted last may not be Ready yet. Asked again while
  // that is the only refusal.
  const settle = () =>
    opts.settle === true || (!!report.unfinishedForward && patched(SETTLE_UNFINISHED_FORWARD_PATCH));
  for (let i = 0; i < SETTLE_ATTEMPTS && onlyPodsNotReady(report) && settle(); i++) {
    await sleep(SETTLE_INTERVAL_MS);
    report = await askPreflight(run, spec, acts, resume);
  }
  if (report.evidence) run.recordEvidence(report.evidence);
  if (report.refusals.length > 0) {
    throw run.fail(
      'refused',
      FailureType.PreflightRefused,
      `preflight refused the migration (nothing was changed):\n- ${report.refusals.join('\n- ')}`,
      { refusals: report.refusals },
    );
  }
  return report;
}

const SETTLE_ATTEMPTS = 12;
const SETTLE_INTERVAL_MS = 5_000;

function onlyPodsNotReady(report: PreflightReport): boolean {
  return report.refusals.length > 0 && report.refusals.every((r) => r.startsWith(SOURCE_PODS_NOT_READY));
}

async function askPreflight(
  run: MigrationRun,
  spec: MigrationSpec,
  acts: RoutedActivities,
  resume: boolean,
): Promise<PreflightReport> {
  // A preflight no worker picks up in time ends the run naming the queue (no-worker.ts).
  const guarded = (side: Side, p: Promise<PreflightReport>) => pickedUp(run, spec, side, p);
  if (spec.workers.mode === 'per-cluster') {
    const sourceReport = await guarded(
      'source',
      acts.onSide.source.preflight({ spec, part: 'source', ...(resume ? { resume } : {}) }),
    );
    return guarded(
      'target',
      acts.onSide.target.preflight({ spec, part: 'target', sourceReport, ...(resume ? { resume } : {}) }),
    );
  }
  return guarded('source', acts.preflight({ spec, ...(resume ? { resume } : {}) }));
}

function planOrRefuse(run: MigrationRun, spec: MigrationSpec, report: PreflightReport): MigrationPlan {
  let plan: MigrationPlan;
  try {
    if (report.planError !== undefined) throw new Error(report.planError);
    // Runs from before the preflight activity made the plan, plan here as they did.
    plan = report.plan ?? planMigration({ spec, observed: report.observed });
  } catch (err) {
    throw run.fail(
      'no-safe-plan',
      FailureType.NoSafePlan,
      `no safe plan: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  run.startPlan(plan, report.warnings);
  return plan;
}

function emptyFacts(): RunFacts {
  return { addresses: { source: {}, target: {} }, targetHostAliases: [], memberIds: {} };
}
