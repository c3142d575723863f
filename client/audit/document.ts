/**
 * Audit model -> a small document (sections of paragraphs, lists, key/value pairs and tables
 * of plain text), rendered the same way to Markdown and to HTML. All text stays plain here:
 * each renderer escapes it for its format.
 */
import type {
  AuditEvidence,
  AuditGate,
  AuditMembershipChange,
  AuditReport,
  RunStatus,
  StepOutcome,
} from './model.js';
import YAML from 'yaml';
import { timelinePicture } from './timeline-picture.js';

export type Tone = 'ok' | 'bad' | 'warn' | 'muted';
export interface Cell {
  text: string;
  tone?: Tone;
  mono?: boolean;
}
export type CellInput = string | number | null | undefined | Cell;

export type Block =
  | { kind: 'paragraph'; text: string; tone?: Tone }
  | { kind: 'list'; items: string[] }
  | { kind: 'pairs'; rows: [string, CellInput][] }
  | { kind: 'table'; columns: string[]; rows: CellInput[][] }
  /** Preformatted text (a picture, a spec): shown as is, in a monospace font. */
  | { kind: 'code'; text: string };

export interface Section {
  id: string;
  title: string;
  blocks: Block[];
}

export interface AuditDocument {
  title: string;
  status: { text: string; tone: Tone };
  sections: Section[];
}

export function cell(input: CellInput): Cell {
  if (input === null || input === undefined) return { text: '—', tone: 'muted' };
  if (typeof input === 'object') return input;
  return { text: String(input) };
}

/** `1.2 s`, `3 min 4 s`, `1 h 2 min`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const totalSeconds = Math.round(s);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const sec = totalSeconds % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

/** ISO time without the date when it is the run's start date (the summary shows the date). */
function timeOf(iso: string | null | undefined, day: string): string {
  if (!iso) return '—';
  return iso.startsWith(day) ? iso.slice(11).replace('Z', ' Z') : iso.replace('T', ' ');
}

const STATUS_TONE: Record<RunStatus, Tone> = {
  completed: 'ok',
  aborted: 'warn',
  stopped: 'warn',
  'rolled-back': 'warn',
  refused: 'warn',
  failed: 'bad',
  terminated: 'bad',
  canceled: 'bad',
  'timed-out': 'bad',
  'continued-as-new': 'muted',
  running: 'muted',
};

function outcomeCell(o: StepOutcome): Cell {
  const tone: Tone = o === 'completed' ? 'ok' : o === 'running' || o === 'scheduled' ? 'muted' : 'bad';
  return { text: o, tone };
}

function gateOutcome(g: AuditGate): Cell {
  const tone: Tone =
    g.outcome === 'approved' || g.outcome === 'auto-approved'
      ? 'ok'
      : g.outcome === 'waiting'
        ? 'muted'
        : 'warn';
  return { text: g.outcome + (g.by && g.outcome === 'approved' ? ` by ${g.by}` : ''), tone };
}

function guardCell(m: AuditMembershipChange): Cell {
  if (!m.guard) {
    return {
      text: m.compensation ? 'none recorded (undo: the guard result is not returned)' : 'none recorded',
      tone: 'muted',
    };
  }
  return { text: m.guard.summary, tone: m.guard.allowed ? 'ok' : 'bad' };
}

function evidenceHealth(e: AuditEvidence): Cell {
  const departed = e.departed.length ? `; removed, not answering: ${e.departed.join(', ')}` : '';
  if (e.unhealthy.length) return { text: `unhealthy: ${e.unhealthy.join(', ')}${departed}`, tone: 'bad' };
  return { text: `${e.healthy.length} healthy${departed}`, tone: 'ok' };
}

function evidenceHash(e: AuditEvidence): Cell {
  if (!e.hashKv) return { text: 'not taken', tone: 'muted' };
  const distinct = new Set(Object.values(e.hashKv.hashes));
  return {
    text: `${e.hashKv.agree ? 'agree' : 'DIFFER'} at rev ${e.hashKv.revision} (${Object.keys(e.hashKv.hashes).length} members, ${distinct.size} distinct ${distinct.size === 1 ? 'hash' : 'hashes'}: ${[...distinct].join(', ')})`,
    tone: e.hashKv.agree ? 'ok' : 'bad',
  };
}

export function auditDocument(r: AuditReport): AuditDocument {
  const day = r.startedAt.slice(0, 10);
  const t = (iso: string | null | undefined) => timeOf(iso, day);
  const sections: Section[] = [];

  const lastEvidence = r.evidence.at(-1);
  const finalMembers = r.outcome.finalMembers
    ? r.outcome.finalMembers.map((m) => `${m.name} (${m.id}${m.isLearner ? ', learner' : ''})`).join(', ')
    : lastEvidence
      ? `${[...lastEvidence.voters, ...lastEvidence.learners.map((l) => `${l} (learner)`)].join(', ')} (last evidence, step #${lastEvidence.seq})`
      : null;
  sections.push({
    id: 'summary',
    title: 'Summary',
    blocks: [
      {
        kind: 'pairs',
        rows: [
          ['Workflow ID', { text: r.workflowId, mono: true }],
          ['Run ID', r.runId ? { text: r.runId, mono: true } : null],
          ['Workflow type / task queue', `${r.workflowType} / ${r.taskQueue ?? '?'}`],
          ['Source', r.source],
          ['Target', r.target],
          ['Started', `${r.startedAt.replace('T', ' ')} by client ${r.startedBy ?? '?'}`],
          ['Ended', r.closedAt ? r.closedAt.replace('T', ' ') : { text: 'still running', tone: 'muted' }],
          ['Duration', formatDuration(r.durationMs)],
          ['Outcome', { text: r.outcome.status, tone: STATUS_TONE[r.outcome.status] }],
          ['Reason', r.outcome.reason ?? null],
          ['Final members', finalMembers],
          ['History events', r.historyEvents],
          [
            'In the Web UI',
            r.uiLink
              ? { text: r.uiLink, mono: true }
              : { text: 'no UI address given (--ui-url or ETCD_STRETCH_UI_URL)', tone: 'muted' },
          ],
        ],
      },
    ],
  });

  sections.push({
    id: 'phases',
    title: 'Timeline of phases',
    blocks: r.phases.length
      ? [
          {
            kind: 'table',
            columns: ['#', 'Phase', 'Started', 'Ended', 'Duration'],
            rows: r.phases.map((p, i) => [
              i + 1,
              p.name,
              t(p.startedAt),
              p.endedAt ? t(p.endedAt) : { text: 'in progress', tone: 'muted' },
              formatDuration(p.durationMs),
            ]),
          },
        ]
      : [{ kind: 'paragraph', text: 'No phase was entered.', tone: 'muted' }],
  });
  if (r.phases.length)
    sections.push({
      id: 'timeline',
      title: 'Timeline picture',
      blocks: [{ kind: 'code', text: timelinePicture(r, formatDuration) }],
    });

  const approvalRows = r.approvals.map((a) => [
    t(a.at),
    a.gate,
    a.by,
    a.comment ?? null,
    a.via,
    a.identity ?? null,
    a.effective
      ? { text: 'approved', tone: 'ok' as Tone }
      : { text: a.note ?? 'not effective', tone: 'warn' as Tone },
  ]);
  sections.push({
    id: 'approvals',
    title: 'Gates and approvals',
    blocks: [
      r.gates.length
        ? {
            kind: 'table',
            columns: ['Gate', 'Opens phase', 'Mode', 'Reached', 'Passed', 'Waited', 'Outcome'],
            rows: r.gates.map((g) => [
              g.gate,
              g.phase,
              g.mode,
              t(g.reachedAt),
              t(g.passedAt),
              formatDuration(g.waitedMs),
              gateOutcome(g),
            ]),
          }
        : { kind: 'paragraph', text: 'No gate was reached.', tone: 'muted' },
      {
        kind: 'paragraph',
        text: 'Every approval, with who, when, the comment and the Temporal client identity:',
      },
      approvalRows.length
        ? {
            kind: 'table',
            columns: ['At', 'Gate', 'By', 'Comment', 'Via', 'Client identity', 'Effect'],
            rows: approvalRows,
          }
        : { kind: 'paragraph', text: 'No approval.', tone: 'muted' },
      {
        kind: 'paragraph',
        tone: 'warn',
        text: "Approver names are not verified: 'By' is the name the approver sent in the message. The client identity is what the Temporal client reported; Temporal authenticates the connection (mTLS, API key) only where the server is configured to.",
      },
    ],
  });

  sections.push({
    id: 'operator-actions',
    title: 'Aborts, pauses and resumes',
    blocks: r.operatorActions.length
      ? [
          {
            kind: 'table',
            columns: ['At', 'Action', 'By', 'Reason', 'Client identity', 'Effect'],
            rows: r.operatorActions.map((a) => [
              t(a.at),
              { text: a.kind, tone: a.kind === 'abort' ? 'warn' : undefined },
              a.by,
              a.reason ?? null,
              a.identity ?? null,
              a.effect,
            ]),
          },
        ]
      : [{ kind: 'paragraph', text: 'None.', tone: 'muted' }],
  });

  const guardNotes = r.membershipChanges.flatMap((m) =>
    m.guard
      ? [
          ...m.guard.reasons.map((x) => `#${m.seq} ${m.kind} ${m.member}: refused, ${x.code}: ${x.message}`),
          ...m.guard.warnings.map((w) => `#${m.seq} ${m.kind} ${m.member}: warning: ${w}`),
        ]
      : [],
  );
  sections.push({
    id: 'membership',
    title: 'Membership changes',
    blocks: r.membershipChanges.length
      ? [
          {
            kind: 'paragraph',
            text: `${r.membershipChanges.length} membership change(s); the guard's verdict is the one taken right before the change.`,
          },
          {
            kind: 'table',
            columns: [
              'Step',
              'At',
              'Phase',
              'Change',
              'Member',
              'Member ID',
              'Guard verdict before',
              'Voters',
              'Fault tolerance',
              'Result',
            ],
            rows: r.membershipChanges.map((m) => [
              `#${m.seq}`,
              t(m.at),
              m.phase,
              m.compensation ? `${m.kind} (undo)` : m.kind,
              m.member,
              m.memberId ? { text: m.memberId, mono: true } : null,
              guardCell(m),
              m.guard ? `${m.guard.votersBefore} → ${m.guard.votersAfter}` : null,
              m.guard
                ? `${m.guard.faultToleranceBefore} → ${m.guard.faultToleranceAfter} (required ${m.guard.requiredFaultTolerance})`
                : null,
              m.outcome === 'completed'
                ? {
                    text: `${m.alreadyDone ? 'already done' : 'done'}${m.etcdWaitMs ? ` (waited ${formatDuration(m.etcdWaitMs)} for etcd)` : ''}`,
                    tone: 'ok',
                  }
                : { text: `${m.outcome}${m.failure ? `: ${m.failure}` : ''}`, tone: 'bad' },
            ]),
          },
          ...(guardNotes.length ? [{ kind: 'list' as const, items: guardNotes }] : []),
        ]
      : [{ kind: 'paragraph', text: 'No membership change.', tone: 'muted' }],
  });

  sections.push({
    id: 'evidence',
    title: 'Health and hashKV evidence',
    blocks: r.evidence.length
      ? [
          {
            kind: 'table',
            columns: ['Step', 'Taken at', 'After', 'Voters', 'Learners', 'Leader', 'Health', 'hashKV'],
            rows: r.evidence.map((e) => [
              `#${e.seq}`,
              t(e.at),
              e.step,
              e.voters.join(', '),
              e.learners.length ? e.learners.join(', ') : null,
              e.leader ?? { text: 'none', tone: 'bad' },
              evidenceHealth(e),
              evidenceHash(e),
            ]),
          },
        ]
      : [{ kind: 'paragraph', text: 'No evidence recorded.', tone: 'muted' }],
  });

  sections.push({
    id: 'steps',
    title: 'Steps',
    blocks: [
      {
        kind: 'table',
        columns: [
          '#',
          'Phase',
          'Activity',
          'What',
          'Scheduled',
          'Duration',
          'Attempts',
          'Outcome',
          'Reported',
        ],
        rows: r.steps.map((s) => [
          s.seq,
          s.phase,
          s.role === 'forward' ? s.activityType : `${s.activityType} (${s.role})`,
          s.description,
          t(s.scheduledAt),
          formatDuration(s.durationMs),
          s.attempts > 1 ? { text: String(s.attempts), tone: 'warn' } : s.attempts,
          outcomeCell(s.outcome),
          s.outcome === 'completed' ? s.result : s.failure,
        ]),
      },
    ],
  });

  sections.push({
    id: 'failures',
    title: 'Failures and retries',
    blocks: [
      r.failures.length
        ? {
            kind: 'table',
            columns: ['At', 'Where', 'Type', 'Attempts', 'Retries stopped', 'Message'],
            rows: r.failures.map((f) => [
              t(f.at),
              f.where,
              f.type,
              f.attempts,
              f.retryState,
              { text: f.message, tone: 'bad' },
            ]),
          }
        : { kind: 'paragraph', text: 'No failure.', tone: 'ok' },
      r.retries.length
        ? {
            kind: 'table',
            columns: ['Step', 'Activity', 'Attempts', 'Failure before the last attempt', 'Outcome'],
            rows: r.retries.map((x) => [
              `#${x.seq}`,
              x.step,
              x.attempts,
              x.lastFailure,
              outcomeCell(x.outcome),
            ]),
          }
        : { kind: 'paragraph', text: 'No retried step.', tone: 'muted' },
    ],
  });

  const rb = r.rollback;
  sections.push({
    id: 'rollback',
    title: 'Rollback and compensations',
    blocks: rb
      ? [
          {
            kind: 'pairs',
            rows: [
              ['Trigger', { text: rb.trigger, tone: 'warn' }],
              ['Triggered at', t(rb.triggeredAt)],
              ['Ended', rb.endedAt ? t(rb.endedAt) : { text: 'not finished', tone: 'muted' }],
              ['Duration', formatDuration(rb.durationMs)],
            ],
          },
          {
            kind: 'paragraph',
            text: 'Compensations in the order they ran: newest first (the reverse of the steps they undo).',
          },
          rb.compensations.length
            ? {
                kind: 'table',
                columns: ['#', 'Step', 'Scheduled', 'Compensation', 'Undoes', 'Outcome'],
                rows: rb.compensations.map((c, i) => [
                  i + 1,
                  `#${c.seq}`,
                  t(c.at),
                  `${c.activityType}: ${c.description}`,
                  c.undoes ? `#${c.undoes.seq} ${c.undoes.activityType}: ${c.undoes.description}` : null,
                  c.outcome === 'completed'
                    ? outcomeCell(c.outcome)
                    : { text: `${c.outcome}${c.failure ? `: ${c.failure}` : ''}`, tone: 'bad' },
                ]),
              }
            : { kind: 'paragraph', text: 'Nothing to undo.', tone: 'muted' },
        ]
      : [{ kind: 'paragraph', text: 'No rollback.', tone: 'muted' }],
  });

  sections.push({
    id: 'spec',
    title: 'Effective spec',
    blocks:
      r.effectiveSpec === null
        ? [{ kind: 'paragraph', text: 'The run input has no readable spec.', tone: 'muted' }]
        : [
            { kind: 'paragraph', text: 'The spec the run used, with the defaults of the schema filled in.' },
            { kind: 'code', text: YAML.stringify(r.effectiveSpec).trimEnd() },
          ],
  });

  sections.push({
    id: 'notes',
    title: 'How this report was made',
    blocks: [{ kind: 'list', items: r.notes }],
  });

  return {
    title: `Migration audit: ${r.workflowId}`,
    status: { text: r.outcome.status, tone: STATUS_TONE[r.outcome.status] },
    sections,
  };
}
