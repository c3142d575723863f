/**
 * The state one migration run shares between its handlers, its phases and its steps, with the
 * operations that change it: enter a phase, wait at a gate, checkpoint for pause and abort,
 * record evidence, end the run. The `status` query returns `status` as it is.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Evidence, MembershipResult } from '../core/activity-contract.js';
import type { MigrationPlan, PhaseName, Side, StepOfKind } from '../core/planner/plan-types.js';
import type { AbortInput, ApproveInput, PauseInput } from './messages.js';
import { recordPhaseEnded, recordRunFinished } from './migration-metrics.js';
import { currentDetails } from './current-details.js';
import { ABORT_WINS_AT_GATE_PATCH, STATE_SEARCH_ATTRIBUTES_PATCH } from './patches.js';
import { Saga } from './saga.js';
import { PHASE_KEY, STATE_KEY, WAITING_GATE_KEY } from './search-attributes.js';
import { initialStatus, type MigrationStatus, type StepProgress, type WaitingFor } from './status.js';

/** Thrown inside the run when an abort before the client switch asks for a rollback. */
export class AbortRequested extends Error {}

export function now(): string {
  return new Date().toISOString();
}

/** The innermost message: an activity failure says "Activity task failed", its cause says why. */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

export class MigrationRun {
  readonly status: MigrationStatus = initialStatus();
  /** Undos of what was done, newest first; emptied at the client switch (no rollback past it). */
  readonly saga = new Saga();
  /** The waits of the steps running now (waitingOn), oldest first. */
  private readonly waits: WaitingFor[] = [];
  /**
   * Clusters whose Kubernetes API did not answer an undo through its whole retry policy in this
   * rollback: their later Kubernetes calls get one attempt each (activity-routing.ts).
   */
  readonly clustersNotAnswering = new Set<Side>();
  private waitingGate: string | null = null;
  private readonly approvals = new Set<string>();
  private currentScope: CancellationScope | undefined;
  /** Runs started before the state search attributes do not upsert them (patches.ts). */
  private readonly upsertsState = patched(STATE_SEARCH_ATTRIBUTES_PATCH);
  private readonly upserted: { state?: string; gate?: string | null } = {};

  get clientsSwitched(): boolean {
    return this.status.clientsSwitched;
  }

  get abortRequested(): boolean {
    return this.status.abort !== null;
  }

  /** Registers the undo of a step; past the client switch there is no rollback, so none is kept. */
  registerUndo(c: Parameters<Saga['register']>[0]): void {
    if (!this.clientsSwitched) this.saga.register(c);
  }

  /** Past the switch-clients gate the clients use the new members: only a way forward remains. */
  switchClients(): void {
    this.status.clientsSwitched = true;
    this.saga.clear();
  }

  // --- messages ---------------------------------------------------------------------------

  /** Why an approval for `gate` cannot be taken now, or null when that gate is waiting. */
  approvalRefusal(gate: string): string | null {
    if (this.waitingGate === gate) return null;
    return this.waitingGate ? `waiting at ${this.waitingGate}` : 'no gate is waiting';
  }

  approve(a: ApproveInput, via: string): boolean {
    const refusal = this.approvalRefusal(a.gate);
    if (refusal) {
      this.status.notices.push(`${now()} ${via} from ${a.by} for gate ${a.gate} ignored: ${refusal}`);
      return false;
    }
    this.approvals.add(a.gate);
    this.status.approvals.push({ gate: a.gate, by: a.by, comment: a.comment, at: now(), mode: 'manual' });
    return true;
  }

  pause(p: PauseInput): void {
    if (!this.status.paused) this.status.paused = { by: p.by, reason: p.reason, at: now() };
  }

  resume(): void {
    this.status.paused = null;
  }

  abort(a: AbortInput): void {
    if (this.status.abort) return;
    this.status.abort = { by: a.by, reason: a.reason, at: now() };
    // Before the client switch an abort rolls back: stop what is running now. The rollback
    // starts once a cancelled activity that changes things has ended (activity-options.ts).
    if (!this.clientsSwitched) this.currentScope?.cancel();
  }

  // --- the plan ------------------------------------------------------------------------------

  /** Publishes the plan (every step pending) and starts running it. */
  startPlan(plan: MigrationPlan, preflightWarnings: string[]): void {
    this.status.plan = {
      steps: plan.steps.map((s) => ({
        id: s.id,
        phase: s.phase,
        kind: s.kind,
        title: s.title,
        state: 'pending',
        after: s.after,
      })),
      warnings: [...preflightWarnings, ...plan.warnings],
      requiredFaultTolerance: plan.requiredFaultTolerance,
    };
    this.status.workflowState = 'running';
    this.publish();
  }

  /** Each plan step's progress, in plan order (empty before planning). */
  get progress(): StepProgress[] {
    return this.status.plan?.steps ?? [];
  }

  // --- phases, gates, checkpoints -----------------------------------------------------------

  enterPhase(phase: PhaseName): void {
    if (this.status.phase === phase) return;
    this.finishPhases();
    this.status.phase = phase;
    this.status.phases.push({ name: phase, startedAt: now() });
    upsertSearchAttributes([{ key: PHASE_KEY, value: phase }]);
    log.info('phase started', { phase });
    this.publish();
  }

  /**
   * Shows where the run is: the Web UI's current details, and the state and waiting-gate search
   * attributes (upserted only when they changed). Called wherever the state or the wait changes.
   */
  publish(): void {
    const { status } = this;
    setCurrentDetails(currentDetails(status));
    if (!this.upsertsState) return;
    const gate = status.waitingFor?.kind === 'approval' ? status.waitingFor.gate : null;
    const updates: Parameters<typeof upsertSearchAttributes>[0] = [];
    if (status.workflowState !== this.upserted.state)
      updates.push({ key: STATE_KEY, value: status.workflowState });
    if (gate !== (this.upserted.gate ?? null)) updates.push({ key: WAITING_GATE_KEY, value: gate });
    this.upserted.state = status.workflowState;
    this.upserted.gate = gate;
    if (updates.length > 0) upsertSearchAttributes(updates);
  }

  finishPhases(): void {
    const last = this.status.phases[this.status.phases.length - 1];
    if (last && !last.endedAt) {
      last.endedAt = now();
      recordPhaseEnded(last);
    }
  }

  /**
   * Waits for approval, or an abort (which wins when both came together); returns false when an
   * abort after the client switch stops the run here.
   */
  async waitAtGate(step: StepOfKind<'gate'>): Promise<boolean> {
    const { status } = this;
    if (step.approval === 'auto') {
      status.approvals.push({ gate: step.gate, by: 'auto', at: now(), mode: 'auto' });
      return true;
    }
    this.waitingGate = step.gate;
    status.workflowState = 'waiting-approval';
    status.waitingFor = {
      kind: 'approval',
      gate: step.gate,
      since: now(),
      how: `signal approve {"gate":"${step.gate}","by":"<you>"} (or: etcd-stretch approve ${workflowInfo().workflowId} ${step.gate})`,
    };
    this.publish();
    await condition(() => this.approvals.has(step.gate) || status.abort !== null);
    this.waitingGate = null;
    status.waitingFor = null;
    status.workflowState = 'running';
    this.publish();
    // An abort that came with the approval (the same workflow task) wins over it.
    const approved = this.approvals.has(step.gate);
    const aborted = status.abort !== null && (!approved || patched(ABORT_WINS_AT_GATE_PATCH));
    if (!aborted) return true;
    if (!this.clientsSwitched) throw new AbortRequested();
    return false;
  }

  /** Between steps: an abort before the switch rolls back; a pause waits for resume (or abort). */
  async checkpoint(): Promise<void> {
    const { status } = this;
    const rollbackRequested = () => status.abort !== null && !this.clientsSwitched;
    if (rollbackRequested()) throw new AbortRequested();
    if (status.paused) {
      status.workflowState = 'paused';
      status.waitingFor = {
        kind: 'resume',
        since: status.paused.at,
        by: status.paused.by,
        reason: status.paused.reason,
      };
      this.publish();
      await condition(() => status.paused === null || rollbackRequested());
      status.waitingFor = null;
      status.workflowState = 'running';
      this.publish();
      if (rollbackRequested()) throw new AbortRequested();
    }
  }

  /** Runs `fn` in a scope an abort before the client switch cancels. */
  async cancellable<T>(fn: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    this.currentScope = scope;
    try {
      return await scope.run(fn);
    } finally {
      this.currentScope = undefined;
    }
  }

  /** Runs `fn` (a step's wait for the world) with `what` as the status's `waitingFor`. */
  async waitingOn<T>(what: WaitingFor, fn: () => Promise<T>): Promise<T> {
    this.waits.push(what);
    this.status.waitingFor = what;
    this.publish();
    try {
      return await fn();
    } finally {
      this.waits.splice(this.waits.indexOf(what), 1);
      // Steps that run together wait side by side: the status shows a wait still going on.
      if (this.status.waitingFor === what) this.status.waitingFor = this.waits.at(-1) ?? null;
      this.publish();
    }
  }

  // --- evidence -------------------------------------------------------------------------------

  recordEvidence(e: Evidence): void {
    this.status.lastEvidence = e;
    this.status.members = e.members;
  }

  recordMembership(r: MembershipResult): void {
    if (r.guard) this.status.lastGuard = r.guard;
    this.recordEvidence(r.evidence);
  }

  // --- the end ----------------------------------------------------------------------------------

  /** Ends the run as failed with `message`: status, metrics, and the failure the run closes with. */
  fail(outcome: string, type: string, message: string, details?: unknown): ApplicationFailure {
    this.status.workflowState = 'failed';
    this.status.error = message;
    this.finishPhases();
    this.publish();
    recordRunFinished(outcome);
    return ApplicationFailure.nonRetryable(message, type, ...(details === undefined ? [] : [details]));
  }
}
