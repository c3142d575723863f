/** What the `status` query returns: everything an operator needs to decide at a gate. */
import type { Evidence } from '../core/activity-contract.js';
import type { MembershipState, PhaseName, PlanStepKind, Side } from '../core/planner/plan-types.js';
import type { GuardVerdict } from '../core/safety-guard.js';
import type { GateName } from '../core/spec/schema.js';

export type RunState =
  | 'preflight'
  | 'running'
  | 'waiting-approval'
  | 'paused'
  | 'soaking'
  | 'rolling-back'
  | 'completed'
  | 'aborted'
  | 'rolled-back'
  | 'stopped'
  | 'failed';

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'undone';

export interface StepProgress {
  id: string;
  phase: PhaseName;
  kind: PlanStepKind;
  title: string;
  state: StepState;
  after: MembershipState;
  startedAt?: string;
  endedAt?: string;
  attempts?: number;
  note?: string;
}

export interface Approval {
  gate: GateName;
  by: string;
  comment?: string;
  at: string;
  mode: 'manual' | 'auto';
}

export type WaitingFor =
  | { kind: 'approval'; gate: GateName; since: string; how: string }
  | { kind: 'resume'; since: string; by: string; reason?: string }
  | { kind: 'soak'; until: string }
  | { kind: 'activity'; step: string; since: string }
  /**
   * The cluster's DNS does not answer every configured member name yet (after configure-dns,
   * per-cluster workers). `pending`: the names being confirmed; the activity's heartbeat
   * (`temporal workflow describe`) says which still resolve wrong.
   */
  | { kind: 'dns'; cluster: Side; pending: string[]; since: string }
  /** A reverse migration: the run of the migration that made its source, finishing it first. */
  | { kind: 'forward'; workflowId: string; members: string[]; since: string };

export interface PhaseTiming {
  name: PhaseName;
  startedAt: string;
  endedAt?: string;
}

export interface CompensationRecord {
  title: string;
  state: 'pending' | 'done' | 'failed';
  startedAt?: string;
  endedAt?: string;
  error?: string;
  /** A failed undo that the rollback went past: what it leaves in its cluster. */
  leftBehind?: string[];
}

/** What a rollback could not undo: it went past undos whose Kubernetes deletes could not run. */
export interface LeftBehind {
  /** By cluster: the objects the failed undos would have deleted. */
  objects: Partial<Record<Side, string[]>>;
  /** New members still in the etcd member list after the rollback (none when their removals ran). */
  members: string[];
  /** The undos that failed, with why. */
  undos: { title: string; error: string }[];
}

export interface MigrationStatus {
  workflowState: RunState;
  phase: PhaseName | null;
  step: { index: number; total: number; id: string; title: string } | null;
  waitingFor: WaitingFor | null;
  plan: { steps: StepProgress[]; warnings: string[]; requiredFaultTolerance: number } | null;
  members: Evidence['members'];
  lastEvidence: Evidence | null;
  lastGuard: GuardVerdict | null;
  approvals: Approval[];
  phases: PhaseTiming[];
  clientsSwitched: boolean;
  paused: { by: string; reason?: string; at: string } | null;
  abort: { by: string; reason: string; at: string } | null;
  compensations: CompensationRecord[];
  /** After a rollback that went past failed undos: what it left behind. */
  leftBehind: LeftBehind | null;
  error: string | null;
  /** Messages that were refused (e.g. an approval for a gate that is not waiting). */
  notices: string[];
}

export function initialStatus(): MigrationStatus {
  return {
    workflowState: 'preflight',
    phase: null,
    step: null,
    waitingFor: null,
    plan: null,
    members: [],
    lastEvidence: null,
    lastGuard: null,
    approvals: [],
    phases: [],
    clientsSwitched: false,
    paused: null,
    abort: null,
    compensations: [],
    leftBehind: null,
    error: null,
    notices: [],
  };
}
