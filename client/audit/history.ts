/**
 * History -> audit model. Pure: takes a decoded Temporal history (from `historyFromJSON` of a
 * `temporal workflow show --output json` export, or from `handle.fetchHistory()`) and rebuilds
 * what the run did from the events alone, without the workflow's in-memory status:
 *
 * - phases: the `EtcdMigrationPhase` search-attribute upserts (the workflow upserts it on entering
 *   each phase) with their event times; without them, the phases in the workflow's result;
 * - gates: every phase but preflight opens with its gate (GATE_BEFORE_PHASE). Manual gates are
 *   passed by an `approve` signal or an `approveGate` update (both in the history, with the
 *   client identity); auto gates leave no message, so they are reconstructed from the spec's
 *   `gates` (workflow input) and the phase upsert;
 * - steps: one per activity (scheduled/started/completed/failed/timed out/canceled), with the
 *   attempt number of the last attempt (Temporal records only the last attempt of a retried
 *   activity, with the previous attempt's failure as `lastFailure`);
 * - rollback: before the client switch, an abort or a failed step makes the workflow run its
 *   saga's undos newest first; they are the undo activities scheduled after that trigger.
 *
 * Undos and what they undo travel in the history: a step whose input carries `undoes` (the id of
 * a plan step) is an undo (role `compensation`), and it reverses the newest completed forward
 * step scheduled before it whose input carries that `stepId`. Histories recorded before these
 * fields existed (no input carries `stepId`) are read by the rules of legacy-undo-pairing.ts.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import type { Evidence, MembershipResult } from '../../core/activity-contract.js';
import { FailureType } from '../../core/failure-types.js';
import { GATE_BEFORE_PHASE } from '../../core/planner/plan-types.js';
import type { GuardVerdict } from '../../core/safety-guard.js';
import { PHASE_KEY, SOURCE_KEY, TARGET_KEY } from '../../workflows/search-attributes.js';
import { GATE_NAMES } from '../../core/spec/schema.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { describeInput, describeResult } from './describe.js';
import { isLegacyUndo, legacyUndoneStep } from './legacy-undo-pairing.js';
import { isObj, str, stepIdOf, undoesOf } from './read-json.js';
import type {
  AuditApproval,
  AuditCompensation,
  AuditEvidence,
  AuditGate,
  AuditMembershipChange,
  AuditOutcome,
  AuditPhase,
  AuditReport,
  AuditRollback,
  AuditStep,
  GuardSummary,
} from './model.js';

type HistoryEvent = NonNullable<History['events']>[number];
type Payloads = { payloads?: Parameters<typeof defaultPayloadConverter.fromPayload>[0][] | null } | null;
type Failure = {
  message?: string | null;
  cause?: Failure | null;
  applicationFailureInfo?: { type?: string | null; details?: Payloads } | null;
  timeoutFailureInfo?: { timeoutType?: unknown } | null;
} | null;

const MEMBERSHIP_KINDS: Record<string, AuditMembershipChange['kind']> = {
  addLearner: 'add learner',
  promote: 'promote',
  removeMember: 'remove member',
  removeLearner: 'remove learner',
};
const RETRY_STATES: Record<number, string> = {
  1: 'in progress',
  2: 'non-retryable failure',
  3: 'timeout',
  4: 'maximum attempts reached',
  5: 'retry policy not set',
  6: 'internal server error',
  7: 'cancel requested',
};
const TIMEOUT_TYPES: Record<number, string> = {
  1: 'start-to-close',
  2: 'schedule-to-start',
  3: 'schedule-to-close',
  4: 'heartbeat',
};

export interface BuildAuditOptions {
  /** Used when the history does not name its workflow (older servers' exports). */
  workflowId?: string;
  runId?: string;
  /** The Temporal Web UI's address (e.g. http://127.0.0.1:8233) and namespace, for a link to the run. */
  ui?: { url: string; namespace: string };
}

/** The run's page in the Web UI. */
export function uiLinkOf(
  ui: { url: string; namespace: string },
  workflowId: string,
  runId: string | null,
): string {
  const base = `${ui.url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}

interface StepState extends AuditStep {
  scheduledEventId: number;
  input: unknown;
  output: unknown;
  failureDetails: unknown[];
}

interface GateState extends AuditGate {
  reachedEventId: number;
  abortedWhileWaiting: boolean;
}

function isoOf(ts: HistoryEvent['eventTime']): string {
  if (!ts) return new Date(0).toISOString();
  const seconds = Number(String(ts.seconds ?? 0));
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

const between = (from: string | null, to: string | null): number | null =>
  from && to ? Date.parse(to) - Date.parse(from) : null;

function decode(p: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | null | undefined): unknown {
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch (err) {
    return { undecodable: err instanceof Error ? err.message : String(err) };
  }
}

const decodeAll = (p: Payloads | undefined): unknown[] => (p?.payloads ?? []).map((x) => decode(x));
const first = (p: Payloads | undefined): unknown => decodeAll(p)[0];

/** The failure's message, with the causes Temporal wraps around it. */
function failureText(f: Failure | undefined): string {
  const parts: string[] = [];
  for (let c = f; c && parts.length < 4; c = c.cause) {
    const msg = c.message ?? '';
    if (msg && !parts.includes(msg)) parts.push(msg);
  }
  return parts.join(': ') || 'unknown failure';
}

function failureType(f: Failure | undefined): string | null {
  for (let c = f; c; c = c.cause) {
    if (c.applicationFailureInfo?.type) return c.applicationFailureInfo.type;
    if (c.timeoutFailureInfo)
      return `timeout (${TIMEOUT_TYPES[Number(c.timeoutFailureInfo.timeoutType)] ?? '?'})`;
  }
  return null;
}

function failureDetails(f: Failure | undefined): unknown[] {
  const out: unknown[] = [];
  for (let c = f; c; c = c.cause) out.push(...decodeAll(c.applicationFailureInfo?.details));
  return out;
}

function retryStateText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return RETRY_STATES[n] ?? (n === 0 || Number.isNaN(n) ? null : `retry state ${n}`);
}

function guardSummary(v: unknown): GuardSummary | null {
  if (!isObj(v) || typeof v.allowed !== 'boolean' || typeof v.summary !== 'string') return null;
  const g = v as unknown as GuardVerdict;
  return {
    allowed: g.allowed,
    summary: g.summary,
    votersBefore: g.votersBefore,
    votersAfter: g.votersAfter,
    faultToleranceBefore: g.faultToleranceBefore,
    faultToleranceAfter: g.faultToleranceAfter,
    requiredFaultTolerance: g.requiredFaultTolerance,
    reasons: (g.reasons ?? []).map((r) => ({ code: r.code, message: r.message })),
    warnings: g.warnings ?? [],
  };
}

function evidenceOf(type: string, result: unknown): Evidence | null {
  if (!isObj(result)) return null;
  const candidate =
    type === 'observe' || type === 'verifyConsistency'
      ? result
      : isObj(result.evidence)
        ? result.evidence
        : null;
  if (!candidate || !Array.isArray(candidate.members) || typeof candidate.at !== 'string') return null;
  return candidate as unknown as Evidence;
}

/** Gate modes from the run's input spec (with the schema's defaults), or null when unreadable. */
function gateModes(spec: unknown): Record<string, 'manual' | 'auto'> | null {
  const parsed = parseMigrationSpec(spec);
  if (parsed.ok) return { ...parsed.spec.gates };
  if (!isObj(spec)) return null;
  // A spec this code no longer validates (older/newer version): read `gates` with the defaults.
  const raw = isObj(spec.gates) ? spec.gates : {};
  return Object.fromEntries(
    GATE_NAMES.map((g) => {
      const v = raw[g];
      const mode =
        v === 'manual' || v === 'auto' ? v : g === 'switch-clients' || g === 'cleanup' ? 'manual' : 'auto';
      return [g, mode];
    }),
  );
}

function effectiveSpecOf(spec: unknown): unknown {
  const parsed = parseMigrationSpec(spec);
  if (parsed.ok) return parsed.spec;
  return isObj(spec) ? spec : null;
}

function specSide(spec: unknown, side: 'source' | 'target'): string | null {
  if (!isObj(spec) || !isObj(spec[side])) return null;
  const s = spec[side];
  return `${str(s.context) ?? '?'}/${str(s.namespace) ?? '?'}/${str(s.statefulSet) ?? '?'}`;
}

export function buildAudit(history: History, options: BuildAuditOptions = {}): AuditReport {
  const events = history.events ?? [];
  const startEvent = events[0];
  const start = startEvent?.workflowExecutionStartedEventAttributes;
  if (!startEvent || !start) {
    throw new Error('not a workflow history: the first event is not WorkflowExecutionStarted');
  }
  const input = first(start.input);
  const spec = isObj(input) ? input.spec : undefined;
  const modes = gateModes(spec);
  const notes: string[] = [];
  if (!modes) notes.push('The run input has no readable spec: gate modes are unknown.');

  const startedAt = isoOf(startEvent.eventTime);
  const report: AuditReport = {
    workflowId:
      (start as { workflowId?: string | null }).workflowId ?? options.workflowId ?? 'unknown-workflow',
    runId: options.runId ?? start.originalExecutionRunId ?? start.firstExecutionRunId ?? null,
    workflowType: start.workflowType?.name ?? 'unknown',
    taskQueue: start.taskQueue?.name ?? null,
    startedAt,
    startedBy: start.identity ?? null,
    closedAt: null,
    durationMs: null,
    historyEvents: events.length,
    source: specSide(spec, 'source'),
    target: specSide(spec, 'target'),
    outcome: { status: 'running' },
    phases: [],
    gates: [],
    approvals: [],
    operatorActions: [],
    steps: [],
    membershipChanges: [],
    evidence: [],
    failures: [],
    retries: [],
    rollback: null,
    notes,
    effectiveSpec: effectiveSpecOf(spec),
    uiLink: null,
  };
  if (options.ui) report.uiLink = uiLinkOf(options.ui, report.workflowId, report.runId);

  const steps = new Map<number, StepState>();
  const ordered: StepState[] = [];
  const gates: GateState[] = [];
  // Mutable run state, in one object: closures below change it (TypeScript would narrow locals).
  const st: {
    openGate: GateState | null;
    switchPassedEventId: number | null;
    abort: { eventId: number; at: string; by: string; reason: string } | null;
    failureTrigger: { eventId: number; at: string; text: string } | null;
    resultPhases: { name: string; startedAt: string; endedAt?: string }[] | null;
  } = { openGate: null, switchPassedEventId: null, abort: null, failureTrigger: null, resultPhases: null };
  const approvalsByUpdate = new Map<string, AuditApproval>();

  /** A command after a waiting gate means the wait is over (approved, or aborted). */
  const closeOpenGate = () => {
    if (st.openGate && st.openGate.passedAt === null) {
      st.openGate.outcome = st.openGate.abortedWhileWaiting ? 'aborted while waiting' : 'not passed';
    }
    st.openGate = null;
  };

  const approve = (a: AuditApproval, eventId: number) => {
    const gate: GateState | null = st.openGate;
    if (gate && gate.gate === a.gate && gate.passedAt === null) {
      gate.passedAt = a.at;
      gate.waitedMs = between(gate.reachedAt, a.at);
      gate.outcome = 'approved';
      gate.by = a.by;
      if (a.gate === 'switch-clients') st.switchPassedEventId = eventId;
      st.openGate = null;
      return true;
    }
    return false;
  };

  const enterPhase = (name: string, at: string, eventId: number) => {
    const last = report.phases[report.phases.length - 1];
    if (last?.name === name) return;
    if (last && last.endedAt === null) {
      last.endedAt = at;
      last.durationMs = between(last.startedAt, at);
    }
    report.phases.push({ name, startedAt: at, endedAt: null, durationMs: null });
    if (name === 'preflight') return;
    const gateName = (GATE_BEFORE_PHASE as Record<string, string | undefined>)[name];
    if (!gateName) return;
    const mode = modes?.[gateName] ?? 'unknown';
    const g: GateState = {
      gate: gateName,
      phase: name,
      mode,
      reachedAt: at,
      reachedEventId: eventId,
      passedAt: null,
      waitedMs: null,
      outcome: 'not passed',
      abortedWhileWaiting: false,
    };
    gates.push(g);
    if (mode === 'auto') {
      g.passedAt = at;
      g.waitedMs = 0;
      g.outcome = 'auto-approved';
      g.by = 'auto';
      report.approvals.push({ at, gate: gateName, by: 'auto', via: 'auto (spec)', effective: true });
      if (gateName === 'switch-clients') st.switchPassedEventId = eventId;
    } else {
      st.openGate = g;
    }
  };

  for (const e of events) {
    const id = Number(String(e.eventId ?? 0));
    const at = isoOf(e.eventTime);

    if (e.upsertWorkflowSearchAttributesEventAttributes) {
      closeOpenGate();
      const fields = e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {};
      const phase = str(decode(fields[PHASE_KEY.name]));
      const source = str(decode(fields[SOURCE_KEY.name]));
      const target = str(decode(fields[TARGET_KEY.name]));
      if (source) report.source = source;
      if (target) report.target = target;
      if (phase) enterPhase(phase, at, id);
      continue;
    }

    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      closeOpenGate();
      const type = scheduled.activityType?.name ?? '?';
      const stepInput = first(scheduled.input);
      const step: StepState = {
        seq: ordered.length + 1,
        activityId: scheduled.activityId ?? '',
        activityType: type,
        phase: report.phases[report.phases.length - 1]?.name ?? null,
        description: describeInput(type, stepInput),
        scheduledAt: at,
        startedAt: null,
        closedAt: null,
        durationMs: null,
        attempts: 1,
        outcome: 'scheduled',
        result: null,
        failure: null,
        role: undoesOf(stepInput) === undefined ? 'forward' : 'compensation',
        worker: null,
        scheduledEventId: id,
        input: stepInput,
        output: undefined,
        failureDetails: [],
      };
      steps.set(id, step);
      ordered.push(step);
      continue;
    }

    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const step = steps.get(Number(String(started.scheduledEventId)));
      if (step) {
        step.startedAt = at;
        step.attempts = started.attempt ?? 1;
        step.worker = started.identity ?? null;
        if (step.outcome === 'scheduled') step.outcome = 'running';
        if (started.lastFailure) step.failure = failureText(started.lastFailure);
      }
      continue;
    }

    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const step = steps.get(Number(String(completed.scheduledEventId)));
      if (step) {
        step.output = first(completed.result);
        step.result = describeResult(step.activityType, step.output);
        step.outcome = 'completed';
        step.closedAt = at;
        step.durationMs = between(step.scheduledAt, at);
        step.worker = completed.identity ?? step.worker;
      }
      continue;
    }

    const failed = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (failed) {
      const step = steps.get(Number(String(failed.scheduledEventId)));
      const f = failed.failure as Failure;
      const timedOut = !!e.activityTaskTimedOutEventAttributes;
      if (step) {
        step.outcome = timedOut ? 'timed-out' : 'failed';
        step.failure = failureText(f);
        step.failureDetails = failureDetails(f);
        step.closedAt = at;
        step.durationMs = between(step.scheduledAt, at);
      }
      report.failures.push({
        at,
        where: step ? `#${step.seq} ${step.activityType}: ${step.description}` : 'activity',
        seq: step?.seq ?? null,
        message: failureText(f),
        type: failureType(f),
        attempts: step?.attempts ?? null,
        retryState: retryStateText(failed.retryState),
      });
      const beforeSwitch = st.switchPassedEventId === null;
      if (beforeSwitch && !st.abort && !st.failureTrigger && step?.role === 'forward') {
        st.failureTrigger = {
          eventId: id,
          at,
          text: `step #${step.seq} ${step.activityType} (${step.description}) ${timedOut ? 'timed out' : 'failed'}: ${step.failure}`,
        };
      }
      continue;
    }

    const canceled = e.activityTaskCanceledEventAttributes;
    if (canceled) {
      const step = steps.get(Number(String(canceled.scheduledEventId)));
      if (step) {
        step.outcome = 'canceled';
        step.closedAt = at;
        step.durationMs = between(step.scheduledAt, at);
      }
      continue;
    }

    if (e.timerStartedEventAttributes) {
      closeOpenGate();
      continue;
    }

    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal) {
      const arg = first(signal.input);
      const a = isObj(arg) ? arg : {};
      const identity = signal.identity ?? undefined;
      const by = str(a.by) ?? '?';
      switch (signal.signalName) {
        case 'approve': {
          const approval: AuditApproval = {
            at,
            gate: str(a.gate) ?? '?',
            by,
            comment: str(a.comment),
            via: 'approve signal',
            identity,
            effective: false,
          };
          approval.effective = approve(approval, id);
          if (!approval.effective) {
            approval.note = `ignored by the workflow: ${st.openGate ? `it waited at ${st.openGate.gate}` : 'no gate was waiting'}`;
          }
          report.approvals.push(approval);
          break;
        }
        case 'abort': {
          const reason = str(a.reason) ?? '';
          let effect: string;
          if (st.abort) effect = 'ignored: an abort was already requested';
          else if (st.switchPassedEventId !== null)
            effect = 'after the client switch: the run stops at the next safe point (no rollback)';
          else effect = 'before the client switch: the run rolls back';
          if (!st.abort) st.abort = { eventId: id, at, by, reason };
          if (st.openGate && st.openGate.passedAt === null) st.openGate.abortedWhileWaiting = true;
          report.operatorActions.push({ at, kind: 'abort', by, reason, identity, effect });
          break;
        }
        case 'pause':
          report.operatorActions.push({
            at,
            kind: 'pause',
            by,
            reason: str(a.reason),
            identity,
            effect: 'the run pauses before its next step',
          });
          break;
        case 'resume':
          report.operatorActions.push({
            at,
            kind: 'resume',
            by,
            reason: str(a.comment),
            identity,
            effect: 'the run goes on',
          });
          break;
        default:
          notes.push(`Signal ${signal.signalName ?? '?'} at ${at} is not one of the migration's messages.`);
      }
      continue;
    }

    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const request = accepted.acceptedRequest;
      if (request?.input?.name === 'approveGate') {
        const arg = first(request.input.args);
        const a = isObj(arg) ? arg : {};
        const approval: AuditApproval = {
          at,
          gate: str(a.gate) ?? '?',
          by: str(a.by) ?? '?',
          comment: str(a.comment),
          via: 'approveGate update',
          identity: request.meta?.identity ?? undefined,
          effective: false,
        };
        // The update's validator refuses an approval for a gate that is not waiting, so an
        // accepted one was taken (refused updates never reach the history).
        approval.effective = approve(approval, id);
        if (!approval.effective) approval.note = 'accepted, but no matching gate was waiting in the history';
        report.approvals.push(approval);
        approvalsByUpdate.set(request.meta?.updateId ?? String(id), approval);
      }
      continue;
    }

    const updateDone = e.workflowExecutionUpdateCompletedEventAttributes;
    if (updateDone) {
      const approval = approvalsByUpdate.get(updateDone.meta?.updateId ?? '');
      if (approval && updateDone.outcome?.failure) {
        approval.effective = false;
        approval.note = `the update failed: ${failureText(updateDone.outcome.failure)}`;
      }
      continue;
    }

    const done = e.workflowExecutionCompletedEventAttributes;
    if (done) {
      closeOpenGate();
      report.closedAt = at;
      const result = first(done.result);
      const r = isObj(result) ? result : {};
      const outcome = str(r.outcome);
      report.outcome = {
        status: outcome === 'aborted' || outcome === 'stopped' ? outcome : 'completed',
        reason: str(r.reason),
        finalMembers: Array.isArray(r.finalMembers) ? (r.finalMembers as Evidence['members']) : undefined,
      };
      if (Array.isArray(r.phases)) st.resultPhases = r.phases as NonNullable<typeof st.resultPhases>;
      continue;
    }

    const wfFailed = e.workflowExecutionFailedEventAttributes;
    if (wfFailed) {
      closeOpenGate();
      report.closedAt = at;
      const f = wfFailed.failure as Failure;
      const type = failureType(f) ?? undefined;
      report.outcome = {
        status:
          type === FailureType.MigrationRolledBack
            ? 'rolled-back'
            : type === FailureType.PreflightRefused
              ? 'refused'
              : 'failed',
        reason: failureText(f),
        failureType: type,
      };
      report.failures.push({
        at,
        where: 'workflow',
        seq: null,
        message: failureText(f),
        type: type ?? null,
        attempts: null,
        retryState: null,
      });
      continue;
    }

    const wfTaskFailed = e.workflowTaskFailedEventAttributes;
    if (wfTaskFailed) {
      report.failures.push({
        at,
        where: 'workflow task',
        seq: null,
        message: failureText(wfTaskFailed.failure),
        type: failureType(wfTaskFailed.failure),
        attempts: null,
        retryState: null,
      });
      continue;
    }

    const closedOther: [unknown, AuditOutcome['status'], string | undefined][] = [
      [
        e.workflowExecutionTerminatedEventAttributes,
        'terminated',
        e.workflowExecutionTerminatedEventAttributes
          ? `terminated by ${e.workflowExecutionTerminatedEventAttributes.identity ?? '?'}: ${e.workflowExecutionTerminatedEventAttributes.reason ?? ''}`
          : undefined,
      ],
      [e.workflowExecutionCanceledEventAttributes, 'canceled', undefined],
      [e.workflowExecutionTimedOutEventAttributes, 'timed-out', undefined],
      [e.workflowExecutionContinuedAsNewEventAttributes, 'continued-as-new', undefined],
    ];
    for (const [attrs, status, reason] of closedOther) {
      if (!attrs) continue;
      closeOpenGate();
      report.closedAt = at;
      report.outcome = { status, reason };
    }
  }

  // --- after the last event ---------------------------------------------------------------
  const g = st.openGate;
  if (g !== null) {
    if (g.passedAt === null) {
      g.outcome = report.closedAt
        ? g.abortedWhileWaiting
          ? 'aborted while waiting'
          : 'not passed'
        : 'waiting';
    }
  }
  report.durationMs = between(startedAt, report.closedAt);

  const lastPhase = report.phases[report.phases.length - 1];
  if (lastPhase && report.closedAt) {
    lastPhase.endedAt = report.closedAt;
    lastPhase.durationMs = between(lastPhase.startedAt, report.closedAt);
  }
  if (report.phases.length === 0 && st.resultPhases) {
    report.phases = st.resultPhases.map((p): AuditPhase => ({
      name: p.name,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? null,
      durationMs: between(p.startedAt, p.endedAt ?? null),
    }));
    notes.push(
      'No phase search-attribute upserts in the history: phases are taken from the workflow result.',
    );
  }

  // Rollback: an abort before the client switch, or the first failed step before it.
  const abortSeen = st.abort;
  const triggerFailure = st.failureTrigger;
  const abortRollsBack =
    abortSeen !== null && (st.switchPassedEventId === null || abortSeen.eventId < st.switchPassedEventId);
  const trigger = abortRollsBack
    ? {
        eventId: abortSeen.eventId,
        at: abortSeen.at,
        text: `abort by ${abortSeen.by}: ${abortSeen.reason}`,
      }
    : triggerFailure;
  const last = ordered[ordered.length - 1];
  if (last && report.closedAt && last.activityType === 'observe') last.role = 'final-observation';
  // Histories from before `stepId`/`undoes` existed: undos and their pairing by the legacy rules.
  const legacy = !ordered.some((s) => stepIdOf(s.input) !== undefined);
  if (trigger) {
    const after = ordered.filter((s) => s.scheduledEventId > trigger.eventId);
    const comps = after.filter((s) => (legacy ? isLegacyUndo(s.activityType) : s.role === 'compensation'));
    for (const s of comps) s.role = 'compensation';
    if (legacy && comps.length > 0) {
      notes.push(
        'This history predates plan-step ids in activity inputs (`stepId`, `undoes`): which step each compensation undoes is inferred from activity types and inputs.',
      );
    }
    const finalObs = after.find((s) => s.activityType === 'observe' && s.seq > (comps.at(-1)?.seq ?? 0));
    if (finalObs) finalObs.role = 'final-observation';
    const compensations = comps.map((s): AuditCompensation => ({
      seq: s.seq,
      at: s.scheduledAt,
      activityType: s.activityType,
      description: s.description,
      outcome: s.outcome,
      failure: s.outcome === 'completed' ? null : s.failure,
      undoes: undoneStep(s, ordered, legacy),
    }));
    // The rollback is over when the run closes (after its last undo and a final observation).
    const endedAt = report.closedAt
      ? (finalObs?.closedAt ?? comps.at(-1)?.closedAt ?? report.closedAt)
      : null;
    const rollback: AuditRollback = {
      trigger: trigger.text,
      triggeredAt: trigger.at,
      compensations,
      endedAt,
      durationMs: null,
    };
    rollback.durationMs = between(rollback.triggeredAt, rollback.endedAt);
    report.rollback = rollback;
  }

  report.gates = gates.map(({ reachedEventId: _r, abortedWhileWaiting: _a, ...g }) => g);
  report.steps = ordered.map(
    ({ scheduledEventId: _s, input: _i, output: _o, failureDetails: _f, ...s }) => s,
  );

  for (const s of ordered) {
    const kind = MEMBERSHIP_KINDS[s.activityType];
    if (kind) report.membershipChanges.push(membershipChange(s, kind));
    const ev = s.outcome === 'completed' ? evidenceOf(s.activityType, s.output) : null;
    if (ev) report.evidence.push(evidenceEntry(s, ev));
    if (s.attempts > 1) {
      report.retries.push({
        seq: s.seq,
        step: `${s.activityType}: ${s.description}`,
        attempts: s.attempts,
        lastFailure: s.failure,
        outcome: s.outcome,
      });
    }
  }

  notes.push(
    'Auto-approved gates leave no message in the history: they are reconstructed from the spec in the run input and the phase changes.',
    'Refused approveGate updates (a gate that was not waiting) are never written to the history; ignored approve signals are, and are listed as not effective.',
    'Temporal records only the last attempt of a retried activity, with the failure of the attempt before it.',
  );
  return report;
}

/**
 * The forward step a compensation undoes: the newest completed forward step scheduled before it
 * whose `stepId` is the compensation's `undoes`; in a legacy history, by the legacy rules.
 */
function undoneStep(c: StepState, all: StepState[], legacy: boolean): AuditCompensation['undoes'] {
  const earlier = all.filter((s) => s.seq < c.seq && s.role === 'forward' && s.outcome === 'completed');
  const undoes = undoesOf(c.input);
  const match = legacy
    ? legacyUndoneStep(c, earlier)
    : earlier.filter((s) => undoes !== undefined && stepIdOf(s.input) === undoes).at(-1);
  return match
    ? {
        seq: match.seq,
        activityType: match.activityType,
        description: match.description,
        at: match.scheduledAt,
      }
    : null;
}

function membershipChange(s: StepState, kind: AuditMembershipChange['kind']): AuditMembershipChange {
  const input = isObj(s.input) ? s.input : {};
  const out = isObj(s.output) ? (s.output as Partial<MembershipResult>) : {};
  const refusal = s.failureDetails.find((d) => isObj(d) && isObj(d.verdict)) as
    { verdict: unknown } | undefined;
  return {
    seq: s.seq,
    stepId: stepIdOf(s.input) ?? null,
    at: s.closedAt ?? s.scheduledAt,
    phase: s.phase,
    kind,
    member: str(out.member) ?? str(input.member) ?? '?',
    memberId: str(out.memberId) ?? str(input.memberId) ?? null,
    outcome: s.outcome,
    alreadyDone: out.alreadyDone === true,
    etcdWaitMs: typeof out.etcdWaitMs === 'number' ? out.etcdWaitMs : null,
    appliedAt: str(out.appliedAt) ?? null,
    guard: guardSummary(out.guard) ?? guardSummary(refusal?.verdict),
    compensation: s.role === 'compensation',
    failure: s.outcome === 'completed' ? null : s.failure,
  };
}

function evidenceEntry(s: StepState, ev: Evidence): AuditEvidence {
  const label = (m: Evidence['members'][number]) => m.name || `${m.id} (not started)`;
  const health = Object.entries(ev.health ?? {});
  const listed = new Set(ev.members.map((m) => m.name));
  return {
    seq: s.seq,
    at: ev.at,
    step: `${s.activityType}: ${s.description}`,
    voters: ev.members.filter((m) => !m.isLearner).map(label),
    learners: ev.members.filter((m) => m.isLearner).map(label),
    leader: ev.leader ?? null,
    healthy: health.filter(([, ok]) => ok).map(([n]) => n),
    unhealthy: health.filter(([n, ok]) => !ok && listed.has(n)).map(([n]) => n),
    departed: health.filter(([n, ok]) => !ok && !listed.has(n)).map(([n]) => n),
    revision: ev.revision,
    hashKv: ev.hashKv ?? null,
  };
}
