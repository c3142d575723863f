/**
 * How a run ends once its plan started: completed; stopped at a safe point by an abort after the
 * client switch; or, after a failure or an abort, rolled back before the switch (the saga's
 * undos, newest first) and failed without rollback after it.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Evidence, MigrationActivities } from '../core/activity-contract.js';
import { FailureType } from '../core/failure-types.js';
import { recordRunFinished } from './migration-metrics.js';
import { AbortRequested, failureMessage, now, type MigrationRun } from './migration-run.js';
import { ROLLBACK_PAST_FAILED_UNDOS_PATCH, WAIT_FOR_IN_FLIGHT_PATCH } from './patches.js';
import type { KubernetesUndo } from './saga.js';
import type { LeftBehind, PhaseTiming } from './status.js';
import type { StepContext } from './steps/index.js';

export interface MigrationResult {
  outcome: 'completed' | 'aborted' | 'stopped';
  reason?: string;
  phases: PhaseTiming[];
  finalMembers: Evidence['members'];
  evidence: Evidence | null;
  /** An abort whose rollback went past undos that could not run: what stays where. */
  leftBehind?: LeftBehind;
}

export async function complete({ run, acts, spec }: StepContext): Promise<MigrationResult> {
  run.finishPhases();
  run.status.workflowState = 'completed';
  run.status.step = null;
  run.publish();
  const evidence = await acts.observe({ spec });
  run.recordEvidence(evidence);
  recordRunFinished('completed');
  return { outcome: 'completed', phases: run.status.phases, finalMembers: evidence.members, evidence };
}

/** An abort after the client switch: the run stops at a safe point, the new members serve. */
export async function stopAt({ run, acts, spec }: StepContext, where: string): Promise<MigrationResult> {
  const { status } = run;
  status.workflowState = 'stopped';
  status.step = null;
  run.publish();
  run.finishPhases();
  const evidence = await acts.observe({ spec });
  run.recordEvidence(evidence);
  recordRunFinished('stopped');
  return {
    outcome: 'stopped',
    reason: `aborted by ${status.abort!.by} after the client switch (${status.abort!.reason}); stopped at a safe point ${where}; the new members serve the clients: finish it later with etcd-stretch start --resume <spec> (docs/resume.md), or run a reverse migration to go back`,
    phases: status.phases,
    finalMembers: evidence.members,
    evidence,
  };
}

/** After a failure or an abort: roll back before the client switch, fail without rollback after it. */
export async function afterFailure(ctx: StepContext, err: unknown): Promise<MigrationResult> {
  const { run } = ctx;
  const { status } = run;
  const failed = run.progress.find((p) => p.state === 'running');
  if (failed) {
    failed.state = 'failed';
    failed.endedAt = now();
    failed.note = failureMessage(err);
  }
  // The activity an abort waited for may have failed rather than been cancelled: still an abort.
  const aborted =
    err instanceof AbortRequested ||
    (status.abort !== null && (isCancellation(err) || patched(WAIT_FOR_IN_FLIGHT_PATCH)));
  if (run.clientsSwitched) {
    throw run.fail(
      'failed',
      FailureType.FailedAfterSwitch,
      `failed after the client switch at ${failed?.id ?? '?'}: ${failed?.note ?? String(err)}; no rollback past the switch: the new members serve the clients; fix the cause, then finish the migration with a new run of the same spec that resumes it: etcd-stretch start --resume <spec> (docs/resume.md)`,
    );
  }
  const reason = aborted
    ? `aborted by ${status.abort!.by}: ${status.abort!.reason}`
    : `step ${failed?.id ?? '?'} failed: ${failed?.note ?? String(err)}`;
  status.error = reason;
  const leftBehind = await rollback(ctx, reason);
  run.finishPhases();
  if (aborted) {
    status.workflowState = 'aborted';
    run.publish();
    recordRunFinished('aborted');
    return {
      outcome: 'aborted',
      reason: leftBehind ? `${reason}; rolled back, ${describeLeftBehind(leftBehind)}` : reason,
      phases: status.phases,
      finalMembers: status.members,
      evidence: status.lastEvidence,
      ...(leftBehind ? { leftBehind } : {}),
    };
  }
  status.workflowState = 'rolled-back';
  run.publish();
  recordRunFinished('rolled-back');
  if (leftBehind)
    throw ApplicationFailure.nonRetryable(
      `${reason}; rolled back, ${describeLeftBehind(leftBehind)}`,
      FailureType.MigrationRolledBack,
      leftBehind,
    );
  throw ApplicationFailure.nonRetryable(
    `${reason}; rolled back, the source is as it was`,
    FailureType.MigrationRolledBack,
  );
}

/** The undos whose Kubernetes deletes the rollback may go past when they fail. */
const KUBERNETES_UNDOS: ReadonlySet<keyof MigrationActivities> = new Set([
  'shrinkTarget',
  'deleteMemberServices',
  'deleteHeadlessService',
  'removeDns',
  'deleteIssuedCertificates',
] as const);

/** `err` came from one of the Kubernetes deletes of an undo (not from its etcd part). */
function failedInKubernetes(err: unknown): boolean {
  return (
    err instanceof ActivityFailure && KUBERNETES_UNDOS.has(err.activityType as keyof MigrationActivities)
  );
}

/** No worker polled the cluster's task queue in time (per-cluster: the cluster's worker is gone). */
function notPickedUp(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/** The cluster did not answer: its API server was unreachable, erred with 5xx, or timed out. */
function didNotAnswer(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof TimeoutFailure) return true;
    if (e instanceof ApplicationFailure && e.type === FailureType.KubernetesUnavailable) return true;
  }
  return false;
}

/**
 * Runs every registered undo, newest first, even if the run was cancelled; then observes.
 * A failed undo stops the rollback, except (patch `rollback-past-failed-undos`) one whose
 * Kubernetes deletes could not run: what it leaves is recorded and the rollback goes on, so the
 * source gets its original voters back even when the target cluster is gone. A failed etcd part
 * (a new member not removed) still stops it: that member keeps its DNS entries and load
 * balancers. Returns what was left behind, or null.
 */
async function rollback({ run, acts, spec }: StepContext, reason: string): Promise<LeftBehind | null> {
  const { status, saga } = run;
  status.workflowState = 'rolling-back';
  const pending = saga.takeAll();
  status.compensations = pending.map((c) => ({ title: c.title, state: 'pending' }));
  log.warn('rolling back', { reason, compensations: pending.map((c) => c.title) });
  const failed: { title: string; error: string; kubernetes: KubernetesUndo }[] = [];
  await CancellationScope.nonCancellable(async () => {
    for (const [i, c] of pending.entries()) {
      const record = status.compensations[i]!;
      try {
        record.startedAt = now();
        run.publish();
        await c.run();
        record.endedAt = now();
        record.state = 'done';
      } catch (err) {
        record.state = 'failed';
        record.error = failureMessage(err);
        const k8s = c.kubernetes;
        if (!k8s || !failedInKubernetes(err) || !patched(ROLLBACK_PAST_FAILED_UNDOS_PATCH)) throw err;
        record.endedAt = now();
        if (notPickedUp(err))
          record.error = `no worker of the ${k8s.cluster} cluster picked it up in time (${record.error})`;
        record.leftBehind = k8s.leaves;
        if (didNotAnswer(err)) run.clustersNotAnswering.add(k8s.cluster);
        failed.push({ title: c.title, error: record.error, kubernetes: k8s });
        log.warn('an undo failed; the rollback goes on', { undo: c.title, error: record.error });
      }
    }
    // A step whose objects an undo could not delete is still in effect.
    const inEffect = new Set(failed.map((f) => f.kubernetes.step));
    for (const p of run.progress)
      if (p.state === 'done' && saga.size === 0 && !run.clientsSwitched && !inEffect.has(p.id))
        p.state = 'undone';
    run.recordEvidence(await acts.observe({ spec }));
  });
  if (failed.length === 0) return null;
  status.leftBehind = leftBehindOf(run, failed);
  return status.leftBehind;
}

function leftBehindOf(
  run: MigrationRun,
  failed: { title: string; error: string; kubernetes: KubernetesUndo }[],
): LeftBehind {
  const objects: LeftBehind['objects'] = {};
  for (const { kubernetes: k } of failed) {
    const list = (objects[k.cluster] ??= []);
    for (const o of k.leaves) if (!list.includes(o)) list.push(o);
  }
  return {
    objects,
    members: run.status.members.filter((m) => m.side === 'target').map((m) => m.name),
    undos: failed.map(({ title, error }) => ({ title, error })),
  };
}

/** "no new member left in the etcd cluster; 2 undo(s) could not run, left behind in target: ...". */
function describeLeftBehind(left: LeftBehind): string {
  const where = Object.entries(left.objects).map(
    ([cluster, objects]) => `in ${cluster}: ${objects.join('; ')}`,
  );
  const members = left.members.length
    ? `still members: ${left.members.join(', ')}`
    : 'no new member left in the etcd cluster';
  return `${members}; ${left.undos.length} undo(s) could not run, left behind ${where.join('; ')}`;
}
