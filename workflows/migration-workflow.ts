/**
 * The migration workflow: preflight, plan, then the plan's steps one by one, with approval
 * gates, pause/resume, abort and saga rollback. Deterministic: all I/O is in activities.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DnsEntryInput, Evidence, MembershipResult, Side } from '../core/activity-contract.js';
import { activitiesFor, type WorkflowActivities } from './activity-options.js';
import {
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  type ApproveInput,
} from './messages.js';
import { planMigration } from '../core/planner/plan.js';
import type { MigrationPlan, PhaseName, PlanStep, StepOfKind } from '../core/planner/plan-types.js';
import { Saga } from './saga.js';
import { PHASE_KEY, SOURCE_KEY, TARGET_KEY } from './search-attributes.js';
import type { MigrationSpec } from '../core/spec/schema.js';
import { parseMigrationSpec, formatSpecErrors } from '../core/spec/validate.js';
import { parseDuration } from '../core/spec/duration.js';
import { initialStatus, type MigrationStatus, type PhaseTiming, type StepProgress } from './status.js';
import { recordPhaseEnded, recordRunFinished } from './migration-metrics.js';

export interface MigrationInput {
  /** The migration spec (references only, no secrets); validated again here. */
  spec: unknown;
}

export interface MigrationResult {
  outcome: 'completed' | 'aborted' | 'stopped';
  reason?: string;
  phases: PhaseTiming[];
  finalMembers: Evidence['members'];
  evidence: Evidence | null;
}

/** Thrown (after compensating) when a failure before the client switch rolled the migration back. */
export const ROLLED_BACK = 'MigrationRolledBack';
/** Thrown when preflight finds a reason not to start; nothing was changed. */
export const PREFLIGHT_REFUSED = 'PreflightRefused';

class AbortRequested extends Error {}

/**
 * Patch: a failed join (learner crashing, load balancer broken, catch-up deadline) is undone on
 * its own and the run pauses for the operator (resume retries the join, abort rolls back), where
 * it used to roll the whole migration back.
 */
export const RETRY_FAILED_JOIN_PATCH = 'retry-failed-join';

/**
 * Patch: a join's undo is registered before the learner is added, so an abort or a failure
 * while the add is in flight (it may land in etcd all the same) still removes the learner.
 */
export const REGISTER_JOIN_UNDO_FIRST_PATCH = 'register-join-undo-first';

/** Refusals about someone else's member in the cluster: not a failed join of ours, so no retry. */
const FOREIGN_CONFLICTS = new Set(['LearnerAlreadyPresent', 'MemberConflict']);

function isForeignConflict(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof ApplicationFailure && e.type && FOREIGN_CONFLICTS.has(e.type)) return true;
  return false;
}

const JOIN_STEP_KINDS: ReadonlySet<PlanStep['kind']> = new Set([
  'add-learner',
  'scale-target',
  'await-catch-up',
  'promote',
]);

/** Durations in a validated spec always parse. */
function ms(duration: string): number {
  const value = parseDuration(duration);
  if (value === undefined)
    throw ApplicationFailure.nonRetryable(`invalid duration ${duration}`, 'InvalidSpec');
  return value;
}

/** The innermost message: an activity failure says "Activity task failed", its cause says why. */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

function now(): string {
  return new Date().toISOString();
}

export async function etcdMigration(input: MigrationInput): Promise<MigrationResult> {
  const status: MigrationStatus = initialStatus();
  const saga = new Saga();
  let currentScope: CancellationScope | undefined;
  let waitingGate: string | null = null;
  const approvals = new Set<string>();

  setHandler(statusQuery, () => status);
  const approve = (a: ApproveInput, via: string) => {
    if (waitingGate !== a.gate) {
      status.notices.push(
        `${now()} ${via} from ${a.by} for gate ${a.gate} ignored: ${waitingGate ? `waiting at ${waitingGate}` : 'no gate is waiting'}`,
      );
      return false;
    }
    approvals.add(a.gate);
    status.approvals.push({ gate: a.gate, by: a.by, comment: a.comment, at: now(), mode: 'manual' });
    return true;
  };
  setHandler(approveSignal, (a) => void approve(a, 'approve signal'));
  setHandler(
    approveUpdate,
    (a) => {
      approve(a, 'approve update');
      return { accepted: true as const, gate: a.gate };
    },
    {
      validator: (a: ApproveInput) => {
        if (waitingGate !== a.gate) {
          throw new Error(
            `gate ${a.gate} is not waiting for approval (${waitingGate ? `waiting at ${waitingGate}` : 'no gate is waiting'})`,
          );
        }
      },
    },
  );
  setHandler(pauseSignal, (p) => {
    if (!status.paused) status.paused = { by: p.by, reason: p.reason, at: now() };
  });
  setHandler(resumeSignal, () => {
    status.paused = null;
  });
  setHandler(abortSignal, (a) => {
    if (status.abort) return;
    status.abort = { by: a.by, reason: a.reason, at: now() };
    // Before the client switch an abort rolls back: stop what is running now.
    if (!status.clientsSwitched) currentScope?.cancel();
  });

  const parsed = parseMigrationSpec(input.spec);
  if (!parsed.ok) {
    status.workflowState = 'failed';
    status.error = formatSpecErrors(parsed.errors);
    recordRunFinished('invalid-spec');
    throw ApplicationFailure.nonRetryable(status.error, 'InvalidSpec');
  }
  const spec: MigrationSpec = parsed.spec;
  const acts = activitiesFor({
    catchUpMs: ms(spec.deadlines.catchUp),
    loadBalancersMs: ms(spec.deadlines.loadBalancers),
  });

  upsertSearchAttributes([
    { key: SOURCE_KEY, value: `${spec.source.context}/${spec.source.namespace}/${spec.source.statefulSet}` },
    { key: TARGET_KEY, value: `${spec.target.context}/${spec.target.namespace}/${spec.target.statefulSet}` },
  ]);
  const enterPhase = (phase: PhaseName) => {
    if (status.phase === phase) return;
    const last = status.phases[status.phases.length - 1];
    if (last && !last.endedAt) {
      last.endedAt = now();
      recordPhaseEnded(last);
    }
    status.phase = phase;
    status.phases.push({ name: phase, startedAt: now() });
    upsertSearchAttributes([{ key: PHASE_KEY, value: phase }]);
    log.info('phase started', { phase });
  };
  const finishPhases = () => {
    const last = status.phases[status.phases.length - 1];
    if (last && !last.endedAt) {
      last.endedAt = now();
      recordPhaseEnded(last);
    }
  };

  // --- preflight: nothing changes -------------------------------------------------------
  enterPhase('preflight');
  const report = await acts.preflight({ spec });
  if (report.evidence) {
    status.lastEvidence = report.evidence;
    status.members = report.evidence.members;
  }
  if (report.refusals.length > 0) {
    status.workflowState = 'failed';
    status.error = `preflight refused the migration (nothing was changed):\n- ${report.refusals.join('\n- ')}`;
    finishPhases();
    recordRunFinished('refused');
    throw ApplicationFailure.nonRetryable(status.error, PREFLIGHT_REFUSED, { refusals: report.refusals });
  }
  let plan: MigrationPlan;
  try {
    plan = planMigration({ spec, observed: report.observed });
  } catch (err) {
    status.workflowState = 'failed';
    status.error = `no safe plan: ${err instanceof Error ? err.message : String(err)}`;
    recordRunFinished('no-safe-plan');
    throw ApplicationFailure.nonRetryable(status.error, 'NoSafePlan');
  }
  const progress: StepProgress[] = plan.steps.map((s) => ({
    id: s.id,
    phase: s.phase,
    kind: s.kind,
    title: s.title,
    state: 'pending',
    after: s.after,
  }));
  status.plan = {
    steps: progress,
    warnings: [...report.warnings, ...plan.warnings],
    requiredFaultTolerance: plan.requiredFaultTolerance,
  };
  status.workflowState = 'running';

  // Values learned along the way that later steps need.
  const addresses: Record<Side, Record<string, string>> = { source: {}, target: {} };
  let targetHostAliases: DnsEntryInput[] = [];
  const memberIds: Record<string, string> = {};
  for (const m of report.observed.members) if (m.id) memberIds[m.name] = m.id;
  const required = plan.requiredFaultTolerance;

  const recordMembership = (r: MembershipResult) => {
    memberIds[r.member] = r.memberId;
    if (r.guard) status.lastGuard = r.guard;
    status.lastEvidence = r.evidence;
    status.members = r.evidence.members;
  };
  const recordEvidence = (e: Evidence) => {
    status.lastEvidence = e;
    status.members = e.members;
  };

  const dnsEntries = (step: StepOfKind<'configure-dns'>): DnsEntryInput[] => {
    // The names are the other cluster's members; their IPs are that cluster's load balancers.
    const other: Side = step.cluster === 'source' ? 'target' : 'source';
    return step.entries.map((e) => {
      const ip = addresses[other][e.member];
      if (!ip)
        throw ApplicationFailure.nonRetryable(
          `no load-balancer address known for ${e.member}`,
          'PlanOrderError',
        );
      return { ip, hostnames: e.hostnames };
    });
  };

  const peerURLsOf = (member: string): string[] | undefined =>
    plan.steps.find((s): s is StepOfKind<'add-learner'> => s.kind === 'add-learner' && s.member === member)
      ?.peerURLs;

  async function runStep(step: PlanStep, a: WorkflowActivities): Promise<string | undefined> {
    switch (step.kind) {
      case 'preflight-checks':
        return 'checked before planning';
      case 'compact': {
        const r = await a.compact({ spec, keepRevisions: step.keepRevisions });
        return `compacted to revision ${r.compactedTo} (current ${r.revision})`;
      }
      case 'rolling-defragment': {
        const r = await a.rollingDefragment({ spec, members: step.members });
        return `defragmented ${r.order.join(' -> ')}; db ${r.dbSizeBefore} -> ${r.dbSizeAfter} bytes`;
      }
      case 'create-headless-service': {
        const r = await a.ensureHeadlessService({ spec, side: step.cluster });
        if (!status.clientsSwitched) {
          saga.register({
            key: step.id,
            title: `delete headless Service ${step.service} (${step.cluster})`,
            run: () => a.deleteHeadlessService({ spec, side: step.cluster }),
          });
        }
        return r.created ? 'created' : 'already there';
      }
      case 'create-member-services': {
        const r = await a.ensureMemberServices({ spec, side: step.cluster, members: step.members });
        saga.register({
          key: step.id,
          title: `delete member Services of ${step.members.join(', ')} (${step.cluster})`,
          run: () => a.deleteMemberServices({ spec, side: step.cluster, members: step.members }),
        });
        return `created ${r.created.length}`;
      }
      case 'await-load-balancers': {
        const r = await a.awaitLoadBalancers({
          spec,
          side: step.cluster,
          members: step.members,
          timeoutMs: ms(step.timeout),
        });
        Object.assign(addresses[step.cluster], r.addresses);
        return Object.entries(r.addresses)
          .map(([m, ip]) => `${m}=${ip}`)
          .join(', ');
      }
      case 'issue-certificates': {
        const members = step.members.filter((m) => addresses.target[m] !== undefined);
        const r = await a.issueCertificates({
          spec,
          members: step.members,
          addresses: Object.fromEntries(members.map((m) => [m, addresses.target[m]!])),
        });
        saga.register({
          key: step.id,
          title: `delete the issued certificate Secrets ${step.secrets.map((s) => s.name).join(', ')}`,
          run: async () => {
            await a.deleteIssuedCertificates({ spec });
          },
        });
        return r.secrets
          .map((s) => `${s.secret}: issued ${s.issued.length}, kept ${s.kept.length}`)
          .join('; ');
      }
      case 'configure-dns': {
        const entries = dnsEntries(step);
        if (step.cluster === 'target' && step.strategy.strategy === 'host-aliases')
          targetHostAliases = entries;
        await a.configureDns({ spec, side: step.cluster, strategy: step.strategy, entries });
        saga.register({
          key: step.id,
          title: `remove DNS entries for ${step.entries.map((e) => e.member).join(', ')} (${step.cluster})`,
          run: () =>
            a.removeDns({
              spec,
              side: step.cluster,
              strategy: step.strategy,
              hostnames: entries.flatMap((e) => e.hostnames),
            }),
        });
        return `${entries.length} entries via ${step.strategy.strategy}`;
      }
      case 'add-learner': {
        const undoJoin = (memberId?: string) => ({
          key: `join/${step.member}`,
          title: `remove member ${step.member}`,
          run: () =>
            a.removeLearner({
              spec,
              member: step.member,
              memberId,
              peerURLs: step.peerURLs,
              requiredFaultTolerance: required,
            }),
        });
        if (!status.clientsSwitched && patched(REGISTER_JOIN_UNDO_FIRST_PATCH)) saga.register(undoJoin());
        const r = await a.addLearner({
          spec,
          member: step.member,
          peerURLs: step.peerURLs,
          requiredFaultTolerance: required,
        });
        recordMembership(r);
        if (!status.clientsSwitched) saga.register(undoJoin(r.memberId));
        return `${r.alreadyDone ? 'already a member' : 'added as learner'}: ${r.memberId}`;
      }
      case 'scale-target': {
        const r = await a.scaleTarget({
          spec,
          member: step.member,
          replicas: step.replicas,
          initialCluster: step.initialCluster,
          hostAliases: targetHostAliases,
        });
        if (!status.clientsSwitched) {
          // One undo for the whole join, in the safe order: leave the cluster, then stop the pod.
          saga.register({
            key: `join/${step.member}`,
            title: `remove member ${step.member}, then scale ${spec.target.statefulSet} to ${step.replicas - 1}`,
            run: async () => {
              await a.removeLearner({
                spec,
                member: step.member,
                memberId: memberIds[step.member],
                peerURLs: peerURLsOf(step.member),
                requiredFaultTolerance: required,
              });
              await a.shrinkTarget({ spec, replicas: step.replicas - 1, removedMembers: [step.member] });
            },
          });
        }
        return `${spec.target.statefulSet} replicas=${r.replicas}${r.created ? ' (created)' : ''}`;
      }
      case 'await-catch-up': {
        const r = await a.awaitCatchUp({
          spec,
          member: step.member,
          memberId: memberIds[step.member],
          timeoutMs: ms(step.timeout),
        });
        return `applied ${r.appliedIndex}/${r.leaderIndex} after ${r.tookMs} ms`;
      }
      case 'promote': {
        const r = await a.promote({ spec, member: step.member, requiredFaultTolerance: required });
        recordMembership(r);
        return r.alreadyDone ? 'already a voter' : 'promoted';
      }
      case 'move-leader': {
        const r = await a.moveLeader({ spec, to: step.to });
        if (!status.clientsSwitched && r.from && !r.alreadyLeader) {
          const back = r.from;
          saga.register({
            key: step.id,
            title: `move leadership back to ${back}`,
            run: async () => {
              await a.moveLeader({ spec, to: back });
            },
          });
        }
        recordEvidence(await a.observe({ spec }));
        return r.alreadyLeader ? `${step.to} already leads` : `leader ${r.from ?? '?'} -> ${r.to}`;
      }
      case 'verify-consistency': {
        const e = await a.verifyConsistency({ spec, members: step.members });
        recordEvidence(e);
        return `hashKV agrees at revision ${e.hashKv?.revision}`;
      }
      case 'remove-member': {
        const r = await a.removeMember({
          spec,
          member: step.member,
          memberId: step.memberId ?? memberIds[step.member],
          requiredFaultTolerance: required,
        });
        recordMembership(r);
        return r.alreadyDone ? 'already removed' : `removed ${r.memberId}`;
      }
      case 'scale-source': {
        const r = await a.scaleSource({ spec, replicas: step.replicas });
        return `${spec.source.statefulSet} replicas=${r.replicas}`;
      }
      case 'finalize-target':
        await a.finalizeTarget({ spec, initialCluster: step.initialCluster });
        return 'initial-cluster lists only the new members';
      case 'soak': {
        status.workflowState = 'soaking';
        status.waitingFor = { kind: 'soak', until: new Date(Date.now() + step.ms).toISOString() };
        await condition(() => status.abort !== null, step.ms);
        status.waitingFor = null;
        status.workflowState = 'running';
        return status.abort ? 'cut short by abort' : `soaked ${step.duration}`;
      }
      case 'cleanup-dns':
        await a.removeDns({
          spec,
          side: step.cluster,
          strategy: step.strategy,
          hostnames: step.entries.flatMap((e) => e.hostnames),
        });
        return 'removed';
      case 'cleanup-member-services':
        await a.deleteMemberServices({ spec, side: step.cluster, members: step.members });
        return 'deleted';
      case 'cleanup-source-statefulset':
        await a.cleanupSourceStatefulSet({ spec });
        return 'deleted';
      case 'cleanup-source-pvcs': {
        const r = await a.cleanupSourcePvcs({ spec, members: step.members });
        return `deleted ${r.deleted.join(', ')}`;
      }
      case 'gate':
        throw new Error('gates are handled by the workflow loop');
    }
  }

  /** Waits for approval; returns false when an abort after the client switch stops the run here. */
  async function gate(step: StepOfKind<'gate'>): Promise<boolean> {
    if (step.approval === 'auto') {
      status.approvals.push({ gate: step.gate, by: 'auto', at: now(), mode: 'auto' });
      return true;
    }
    waitingGate = step.gate;
    status.workflowState = 'waiting-approval';
    status.waitingFor = {
      kind: 'approval',
      gate: step.gate,
      since: now(),
      how: `signal approve {"gate":"${step.gate}","by":"<you>"} (or: etcd-stretch approve ${workflowInfo().workflowId} ${step.gate})`,
    };
    await condition(() => approvals.has(step.gate) || status.abort !== null);
    waitingGate = null;
    status.waitingFor = null;
    status.workflowState = 'running';
    if (approvals.has(step.gate)) return true;
    if (!status.clientsSwitched) throw new AbortRequested();
    return false;
  }

  async function checkpoint(): Promise<void> {
    if (status.abort && !status.clientsSwitched) throw new AbortRequested();
    if (status.paused) {
      status.workflowState = 'paused';
      status.waitingFor = {
        kind: 'resume',
        since: status.paused.at,
        by: status.paused.by,
        reason: status.paused.reason,
      };
      await condition(() => status.paused === null || (status.abort !== null && !status.clientsSwitched));
      status.waitingFor = null;
      status.workflowState = 'running';
      if (status.abort && !status.clientsSwitched) throw new AbortRequested();
    }
  }

  async function rollback(reason: string): Promise<void> {
    status.workflowState = 'rolling-back';
    const pending = saga.takeAll();
    status.compensations = pending.map((c) => ({ title: c.title, state: 'pending' }));
    log.warn('rolling back', { reason, compensations: pending.map((c) => c.title) });
    await CancellationScope.nonCancellable(async () => {
      for (const [i, c] of pending.entries()) {
        try {
          status.compensations[i]!.startedAt = now();
          await c.run();
          status.compensations[i]!.endedAt = now();
          status.compensations[i]!.state = 'done';
        } catch (err) {
          status.compensations[i]!.state = 'failed';
          status.compensations[i]!.error = failureMessage(err);
          throw err;
        }
      }
      for (const p of progress)
        if (p.state === 'done' && saga.size === 0 && !status.clientsSwitched) p.state = 'undone';
      recordEvidence(await acts.observe({ spec }));
    });
  }

  async function stopHere(where: string): Promise<MigrationResult> {
    status.workflowState = 'stopped';
    status.step = null;
    finishPhases();
    const evidence = await acts.observe({ spec });
    recordEvidence(evidence);
    recordRunFinished('stopped');
    return {
      outcome: 'stopped',
      reason: `aborted by ${status.abort!.by} after the client switch (${status.abort!.reason}); stopped at a safe point ${where}; the new members serve the clients: finish later with a new run, or run a reverse migration to go back`,
      phases: status.phases,
      finalMembers: evidence.members,
      evidence,
    };
  }

  const afterSwitchAbortPoint = (step: PlanStep): boolean =>
    status.abort !== null &&
    status.clientsSwitched &&
    step.after.majoritySideOnPartition !== 'neither' &&
    step.after.learners.new.length === 0;

  /**
   * Undoes the join of `member` after one of its steps failed (remove it from etcd, stop its pod
   * and wipe its PVC), then pauses; returns the index of the join's first step to run again.
   */
  async function undoFailedJoin(member: string, failedIndex: number, err: unknown): Promise<number> {
    const first = plan.steps.findIndex((s) => s.kind === 'add-learner' && s.member === member);
    const scale = plan.steps.find(
      (s): s is StepOfKind<'scale-target'> => s.kind === 'scale-target' && s.member === member,
    );
    const failedStep = progress[failedIndex]!;
    const error = failureMessage(err);
    const why = `join of ${member} failed at ${failedStep.id}: ${error}`;
    log.warn('undoing a failed join', { member, step: failedStep.id, error });
    status.workflowState = 'rolling-back';
    await CancellationScope.nonCancellable(async () => {
      await acts.removeLearner({
        spec,
        member,
        memberId: memberIds[member],
        peerURLs: peerURLsOf(member),
        requiredFaultTolerance: required,
      });
      if (scale) {
        await acts.shrinkTarget({
          spec,
          replicas: scale.replicas - 1,
          removedMembers: [member],
          keepHeadlessService: true,
        });
      }
      recordEvidence(await acts.observe({ spec }));
    }).catch((undoErr: unknown) => {
      throw ApplicationFailure.nonRetryable(
        `${why}; undoing the join failed: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}`,
        'JoinUndoFailed',
      );
    });
    failedStep.state = 'failed';
    failedStep.endedAt = now();
    failedStep.note = error;
    saga.takeFrom(`join/${member}`);
    delete memberIds[member];
    for (let i = first; i < failedIndex; i++)
      if (progress[i]!.state === 'done') progress[i]!.state = 'undone';
    status.workflowState = 'running';
    status.notices.push(`${now()} ${why}; undone (member removed, pod stopped)`);
    status.paused = {
      by: 'etcd-stretch',
      reason: `${why}. The member was removed and its pod stopped; fix the cause, then resume to retry the join (or abort to roll back)`,
      at: now(),
    };
    return first;
  }

  try {
    let index = 0;
    while (index < plan.steps.length) {
      const step = plan.steps[index]!;
      const p = progress[index]!;
      await checkpoint();
      enterPhase(step.phase);
      status.step = { index, total: plan.steps.length, id: step.id, title: step.title };
      p.state = 'running';
      p.startedAt = now();
      p.endedAt = undefined;
      if (step.kind === 'gate') {
        if (!(await gate(step))) {
          p.state = 'pending';
          p.startedAt = undefined;
          return await stopHere(`before ${step.id}`);
        }
        if (step.gate === 'switch-clients') {
          // Past this gate the clients use the new members: no more rollback, only a way forward (or a reverse migration).
          status.clientsSwitched = true;
          saga.clear();
        }
      } else {
        const scope = new CancellationScope();
        currentScope = scope;
        try {
          p.note = await scope.run(() => runStep(step, acts));
        } catch (err) {
          const retryable =
            JOIN_STEP_KINDS.has(step.kind) &&
            'member' in step &&
            !status.clientsSwitched &&
            status.abort === null &&
            !isCancellation(err) &&
            !isForeignConflict(err) &&
            patched(RETRY_FAILED_JOIN_PATCH);
          if (!retryable) throw err;
          index = await undoFailedJoin(step.member, index, err);
          continue;
        } finally {
          currentScope = undefined;
        }
      }
      p.state = 'done';
      p.endedAt = now();
      if (afterSwitchAbortPoint(step) && index < plan.steps.length - 1)
        return await stopHere(`after ${step.id}`);
      index++;
    }
  } catch (err) {
    const failed = progress.find((p) => p.state === 'running');
    if (failed) {
      failed.state = 'failed';
      failed.endedAt = now();
      failed.note = failureMessage(err);
    }
    const aborted = err instanceof AbortRequested || (isCancellation(err) && status.abort !== null);
    if (status.clientsSwitched) {
      status.workflowState = 'failed';
      status.error = `failed after the client switch at ${failed?.id ?? '?'}: ${failed?.note ?? String(err)}; no rollback past the switch: fix the cause and run again (the steps are idempotent), or migrate back`;
      finishPhases();
      recordRunFinished('failed');
      throw ApplicationFailure.nonRetryable(status.error, 'FailedAfterSwitch');
    }
    const reason = aborted
      ? `aborted by ${status.abort!.by}: ${status.abort!.reason}`
      : `step ${failed?.id ?? '?'} failed: ${failed?.note ?? String(err)}`;
    status.error = reason;
    await rollback(reason);
    finishPhases();
    if (aborted) {
      status.workflowState = 'aborted';
      recordRunFinished('aborted');
      return {
        outcome: 'aborted',
        reason,
        phases: status.phases,
        finalMembers: status.members,
        evidence: status.lastEvidence,
      };
    }
    status.workflowState = 'rolled-back';
    recordRunFinished('rolled-back');
    throw ApplicationFailure.nonRetryable(`${reason}; rolled back, the source is as it was`, ROLLED_BACK);
  }

  finishPhases();
  status.workflowState = 'completed';
  status.step = null;
  const evidence = await acts.observe({ spec });
  recordEvidence(evidence);
  recordRunFinished('completed');
  return { outcome: 'completed', phases: status.phases, finalMembers: evidence.members, evidence };
}
