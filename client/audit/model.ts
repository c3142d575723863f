/**
 * The audit model: what a migration run did, reconstructed from its Temporal history alone.
 * Plain JSON data (no Temporal or proto types), built by `buildAudit` (history.ts) and rendered
 * to Markdown and HTML (render-*.ts).
 */
import type { Evidence } from '../../core/activity-contract.js';
import type { GuardReasonCode } from '../../core/safety-guard.js';

export type RunStatus =
  | 'completed'
  | 'aborted'
  | 'stopped'
  | 'rolled-back'
  | 'refused'
  | 'failed'
  | 'terminated'
  | 'canceled'
  | 'timed-out'
  | 'continued-as-new'
  | 'running';

export interface AuditOutcome {
  status: RunStatus;
  /** The abort reason, the failure message, or the termination reason. */
  reason?: string;
  /** The failure's type (`MigrationRolledBack`, `PreflightRefused`, ...). */
  failureType?: string;
  /** From the workflow's result, when it returned one. */
  finalMembers?: Evidence['members'];
}

export interface AuditPhase {
  name: string;
  startedAt: string;
  /** Null while the run is still in this phase. */
  endedAt: string | null;
  durationMs: number | null;
}

export type StepOutcome = 'completed' | 'failed' | 'timed-out' | 'canceled' | 'running' | 'scheduled';
export type StepRole = 'forward' | 'compensation' | 'final-observation';

/** One activity: a plan step's work, an undo, or an observation. */
export interface AuditStep {
  /** 1-based position among the run's activities. */
  seq: number;
  activityId: string;
  activityType: string;
  /** The phase the run was in when the activity was scheduled. */
  phase: string | null;
  /** What it was asked to do (from its input). */
  description: string;
  scheduledAt: string;
  startedAt: string | null;
  closedAt: string | null;
  /** Scheduled to closed, retries and backoff included. */
  durationMs: number | null;
  /** Attempts used (1 = no retry); from the last started event. */
  attempts: number;
  outcome: StepOutcome;
  /** What it reported (from its result). */
  result: string | null;
  /** The final failure (failed/timed out), or the last retried failure of a step still running. */
  failure: string | null;
  /**
   * `compensation`: an undo (its input carries `undoes`; in a legacy history without `stepId`,
   * an undo activity scheduled after the rollback's trigger).
   */
  role: StepRole;
  /** Worker identity that ran the last attempt. */
  worker: string | null;
}

export interface AuditGate {
  gate: string;
  /** The phase this gate opens. */
  phase: string;
  mode: 'manual' | 'auto' | 'unknown';
  reachedAt: string;
  /** When it was approved (auto: when reached); null when never passed. */
  passedAt: string | null;
  waitedMs: number | null;
  outcome: 'auto-approved' | 'approved' | 'aborted while waiting' | 'waiting' | 'not passed';
  /** Who approved a manual gate (the effective message). */
  by?: string;
}

export interface AuditApproval {
  at: string;
  gate: string;
  by: string;
  comment?: string;
  via: 'approve signal' | 'approveGate update' | 'auto (spec)';
  /** The Temporal client identity that sent the message (absent for auto approvals). */
  identity?: string;
  /** Whether the workflow took it: a signal for a gate that is not waiting is ignored. */
  effective: boolean;
  note?: string;
}

export interface AuditOperatorAction {
  at: string;
  kind: 'abort' | 'pause' | 'resume';
  by: string;
  reason?: string;
  identity?: string;
  effect: string;
}

export interface GuardSummary {
  allowed: boolean;
  summary: string;
  votersBefore: number;
  votersAfter: number;
  faultToleranceBefore: number;
  faultToleranceAfter: number;
  requiredFaultTolerance: number;
  reasons: { code: GuardReasonCode; message: string }[];
  warnings: string[];
}

export interface AuditMembershipChange {
  /** The step (activity) that made the change. */
  seq: number;
  /** The plan step it ran for (its input's `stepId`); null in histories recorded before that field. */
  stepId: string | null;
  at: string;
  phase: string | null;
  kind: 'add learner' | 'promote' | 'remove member' | 'remove learner';
  member: string;
  memberId: string | null;
  outcome: StepOutcome;
  /** Nothing changed: the member already was in the wanted state (idempotent re-run). */
  alreadyDone: boolean;
  /**
   * How long the change waited for etcd's own rules (its "unhealthy cluster" refusals; before a
   * promote, the leader's first prober record of the learner); null in results recorded before it
   * was measured.
   */
  etcdWaitMs: number | null;
  /** When etcd had applied the change; null when nothing changed or the result predates it. */
  appliedAt: string | null;
  /** The guard's verdict taken right before the change (from the result or from a refusal). */
  guard: GuardSummary | null;
  /** An undo during a rollback. */
  compensation: boolean;
  failure: string | null;
}

export interface AuditEvidence {
  seq: number;
  /** When the evidence was taken (its own `at`). */
  at: string;
  step: string;
  voters: string[];
  learners: string[];
  leader: string | null;
  healthy: string[];
  /** Members in the member list that did not answer. */
  unhealthy: string[];
  /** Not answering and no longer in the member list (just removed: expected). */
  departed: string[];
  revision: number;
  hashKv: { revision: number; agree: boolean; hashes: Record<string, string> } | null;
}

export interface AuditFailure {
  at: string;
  /** The step, or `workflow task` / `workflow`. */
  where: string;
  seq: number | null;
  message: string;
  type: string | null;
  attempts: number | null;
  /** Why Temporal stopped retrying (`non-retryable failure`, `maximum attempts reached`, ...). */
  retryState: string | null;
}

export interface AuditRetry {
  seq: number;
  step: string;
  attempts: number;
  lastFailure: string | null;
  outcome: StepOutcome;
}

export interface AuditCompensation {
  seq: number;
  at: string;
  activityType: string;
  description: string;
  outcome: StepOutcome;
  failure: string | null;
  /**
   * The forward step this undoes: the newest completed one before it whose input's `stepId` is
   * this undo's `undoes` (legacy histories: inferred from activity types and inputs).
   */
  undoes: { seq: number; activityType: string; description: string; at: string } | null;
}

export interface AuditRollback {
  trigger: string;
  triggeredAt: string;
  /** In the order they ran: newest registered first. */
  compensations: AuditCompensation[];
  endedAt: string | null;
  durationMs: number | null;
}

export interface AuditReport {
  workflowId: string;
  runId: string | null;
  workflowType: string;
  taskQueue: string | null;
  startedAt: string;
  /** Client identity that started the run. */
  startedBy: string | null;
  closedAt: string | null;
  durationMs: number | null;
  historyEvents: number;
  source: string | null;
  target: string | null;
  outcome: AuditOutcome;
  phases: AuditPhase[];
  gates: AuditGate[];
  approvals: AuditApproval[];
  operatorActions: AuditOperatorAction[];
  steps: AuditStep[];
  membershipChanges: AuditMembershipChange[];
  evidence: AuditEvidence[];
  failures: AuditFailure[];
  retries: AuditRetry[];
  rollback: AuditRollback | null;
  /** What the history cannot tell, and how the report filled the gap. */
  notes: string[];
  /** The spec the run used, with the schema's defaults (as given when it does not validate); null when unreadable. */
  effectiveSpec: unknown;
  /** The run's page in the Temporal Web UI, when the UI's address was given. */
  uiLink: string | null;
}
