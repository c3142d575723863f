/**
 * The audit report, built from real histories:
 * - test/fixtures/histories/: the workflow on a Temporal dev server with recording fake
 *   activities (a completed run, and one aborted while waiting at the manual `join` gate);
 * - test/fixtures/audit-histories/: runs of the acceptance scenario in the sandbox (real etcd,
 *   real API servers), exported with `temporal workflow show --output json`: a completed run
 *   (switch-clients approved with an update), a run rolled back after a failed step, and a run
 *   exported while still rolling back after a step that failed 8 attempts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { buildAudit } from '../../client/audit/history.js';
import { auditHtml, escapeHtml } from '../../client/audit/render-html.js';
import { auditMarkdown, escapeMarkdown } from '../../client/audit/render-markdown.js';
import { formatDuration } from '../../client/audit/document.js';
import { PHASES } from '../../core/planner/plan-types.js';
import type { SpecInput } from '../../core/activity-contract.js';

type JsonHistory = { events: Record<string, unknown>[] };

function readJson(file: string): JsonHistory {
  return JSON.parse(fs.readFileSync(path.join('test', 'fixtures', file), 'utf8')) as JsonHistory;
}
const audit = (json: JsonHistory) => buildAudit(historyFromJSON(json));
const load = (file: string) => audit(readJson(file));

type Payloads = { payloads: { data: string }[] };
const payloadValue = (p: Payloads): unknown =>
  JSON.parse(Buffer.from(p.payloads[0]!.data, 'base64').toString('utf8'));
const setPayloadValue = (p: Payloads, value: unknown): void => {
  p.payloads[0]!.data = Buffer.from(JSON.stringify(value)).toString('base64');
};

/** Replaces the (single-payload) input of the first signal named `name` in an exported history. */
function withSignal(json: JsonHistory, name: string, signalName: string, arg: unknown): JsonHistory {
  const copy = structuredClone(json);
  const event = copy.events.find(
    (e) =>
      (e.workflowExecutionSignaledEventAttributes as { signalName?: string } | undefined)?.signalName ===
      name,
  );
  if (!event) throw new Error(`no ${name} signal in the fixture`);
  const attrs = event.workflowExecutionSignaledEventAttributes as { signalName: string; input: Payloads };
  attrs.signalName = signalName;
  setPayloadValue(attrs.input, arg);
  return copy;
}

type PlanStepFields = Pick<SpecInput, 'stepId' | 'undoes'>;
interface ScheduledActivity {
  eventId: number;
  type: string;
  input: Record<string, unknown>;
  /** The phase the run was in (its last EtcdMigrationPhase upsert). */
  phase: string;
}

/**
 * An exported history as the refactored workflow will write it: each activity input gets the
 * `stepId`/`undoes` that `fields` gives it (fixtures recorded before these fields have neither).
 */
function withPlanStepFields(
  json: JsonHistory,
  fields: (a: ScheduledActivity) => PlanStepFields,
): JsonHistory {
  const copy = structuredClone(json);
  let phase = '';
  for (const e of copy.events) {
    const upsert = e.upsertWorkflowSearchAttributesEventAttributes as
      { searchAttributes: { indexedFields: Record<string, { data: string }> } } | undefined;
    const phaseField = upsert?.searchAttributes.indexedFields.EtcdMigrationPhase;
    if (phaseField) phase = payloadValue({ payloads: [phaseField] }) as string;
    const scheduled = e.activityTaskScheduledEventAttributes as
      { activityType: { name: string }; input: Payloads } | undefined;
    if (!scheduled) continue;
    const input = payloadValue(scheduled.input) as Record<string, unknown>;
    const type = scheduled.activityType.name;
    setPayloadValue(scheduled.input, {
      ...input,
      ...fields({ eventId: Number(e.eventId), type, input, phase }),
    });
  }
  return copy;
}

/**
 * The fields the refactored workflow sets: plan step ids (`phase/subject/kind`) on forward calls,
 * the id of the step it reverses on undos. removeDns and deleteMemberServices are forward steps in
 * the cleanup phase, moveLeader in the leader phase; everywhere else they undo.
 */
function planStepFields({ type, input, phase }: ScheduledActivity): PlanStepFields {
  const side = String(input.side);
  const member = String(input.member);
  const stopped = String((input.removedMembers as string[] | undefined)?.[0]);
  const undoes: Record<string, string> = {
    removeLearner: `join/${member}/add-learner`,
    shrinkTarget: `join/${stopped}/scale-target`,
    deleteIssuedCertificates: 'expose/target/issue-certificates',
    deleteHeadlessService: `expose/${side}/create-headless-service`,
    ...(phase === 'cleanup'
      ? {}
      : {
          removeDns: `dns/${side}/configure-dns`,
          deleteMemberServices: `expose/${side}/create-member-services`,
        }),
    ...(phase === 'leader' ? {} : { moveLeader: 'leader/move-leader' }),
  };
  if (undoes[type]) return { undoes: undoes[type] };
  const stepIds: Record<string, string> = {
    preflight: 'preflight/preflight-checks',
    compact: 'shrink/compact',
    rollingDefragment: 'shrink/rolling-defragment',
    ensureHeadlessService: `expose/${side}/create-headless-service`,
    ensureMemberServices: `expose/${side}/create-member-services`,
    awaitLoadBalancers: `expose/${side}/await-load-balancers`,
    issueCertificates: 'expose/target/issue-certificates',
    configureDns: `dns/${side}/configure-dns`,
    addLearner: `${phase}/${member}/add-learner`,
    scaleTarget: `${phase}/${member}/scale-target`,
    awaitCatchUp: `${phase}/${member}/await-catch-up`,
    promote: `${phase}/${member}/promote`,
    moveLeader: 'leader/move-leader',
    removeMember: `retire/${member}/remove-member`,
    finalizeTarget: 'finalize/finalize-target',
    removeDns: `cleanup/${side}/cleanup-dns`,
    deleteMemberServices: `cleanup/${side}/cleanup-member-services`,
  };
  return stepIds[type] ? { stepId: stepIds[type] } : {};
}

/** Positions of `needles` in `haystack`, each after the previous one (-1 when out of order). */
function inOrder(haystack: string, needles: string[]): boolean {
  let at = -1;
  for (const n of needles) {
    at = haystack.indexOf(n, at + 1);
    if (at < 0) return false;
  }
  return true;
}

describe('audit of a run aborted at the join gate (fake activities)', () => {
  const json = readJson('histories/fake-activities-aborted-at-join.json');
  const r = audit(json);

  it('names the outcome, the abort, who sent it and from which client', () => {
    expect(r.workflowId).toBe('migration-5e1482f9-96a2-48e3-ad76-27a20499d43f');
    expect(r.outcome.status).toBe('aborted');
    expect(r.outcome.reason).toBe('aborted by dave: test abort at join');
    expect(r.operatorActions).toEqual([
      expect.objectContaining({
        kind: 'abort',
        by: 'dave',
        reason: 'test abort at join',
        identity: '12393@vm',
        effect: 'before the client switch: the run rolls back',
      }),
    ]);
  });

  it('shows the phases up to join and the manual join gate aborted while waiting', () => {
    expect(r.phases.map((p) => p.name)).toEqual(['preflight', 'shrink', 'expose', 'dns', 'join']);
    for (const p of r.phases) expect(p.durationMs).toBeGreaterThanOrEqual(0);
    const join = r.gates.find((g) => g.gate === 'join');
    expect(join).toMatchObject({ mode: 'manual', outcome: 'aborted while waiting', passedAt: null });
    expect(r.gates.filter((g) => g.outcome === 'auto-approved').map((g) => g.gate)).toEqual([
      'shrink',
      'expose',
      'dns',
    ]);
  });

  it('lists the compensations newest first, each with the step it undoes', () => {
    expect(r.rollback?.trigger).toBe('abort by dave: test abort at join');
    const comps = r.rollback!.compensations;
    expect(comps.map((c) => c.description)).toEqual([
      'remove DNS entries in target (6 names)',
      'remove DNS entries in source (6 names)',
      'delete member Services of etcd-main-0, etcd-main-1, etcd-main-2 (target)',
      'delete member Services of etcd-0, etcd-1, etcd-2 (source)',
      'delete the headless Service (target)',
    ]);
    expect(comps.map((c) => c.undoes?.activityType)).toEqual([
      'configureDns',
      'configureDns',
      'ensureMemberServices',
      'ensureMemberServices',
      'ensureHeadlessService',
    ]);
    const undone = comps.map((c) => c.undoes!.seq);
    expect(undone).toEqual([...undone].sort((a, b) => b - a));
    expect(new Set(undone).size).toBe(undone.length);
    expect(comps.every((c) => c.outcome === 'completed')).toBe(true);
    expect(r.steps.at(-1)).toMatchObject({ activityType: 'observe', role: 'final-observation' });
    expect(r.membershipChanges).toEqual([]);
  });

  it('renders the abort reason and the compensations in that order, in Markdown and HTML', () => {
    const md = auditMarkdown(r);
    const html = auditHtml(r);
    for (const text of [md, html]) {
      expect(text).toContain('aborted by dave: test abort at join');
      expect(text).toContain('aborted while waiting');
      expect(
        inOrder(text, [
          'Rollback and compensations',
          'removeDns: remove DNS entries in target',
          'removeDns: remove DNS entries in source',
          'deleteMemberServices: delete member Services of etcd-main-0',
          'deleteMemberServices: delete member Services of etcd-0',
          'deleteHeadlessService: delete the headless Service (target)',
        ]),
      ).toBe(true);
    }
    expect(md).toContain('| 1 | \\#11 |');
  });

  it('marks an approve signal for another gate as ignored', () => {
    const r2 = audit(withSignal(json, 'abort', 'approve', { gate: 'switch-clients', by: 'eve' }));
    const a = r2.approvals.find((x) => x.by === 'eve');
    expect(a).toMatchObject({
      via: 'approve signal',
      effective: false,
      identity: '12393@vm',
      note: 'ignored by the workflow: it waited at join',
    });
    expect(r2.gates.find((g) => g.gate === 'join')?.outcome).toBe('not passed');
    expect(auditMarkdown(r2)).toContain('ignored by the workflow: it waited at join');
  });

  it('credits an approve signal for the waiting gate, with the comment and the wait', () => {
    const r3 = audit(withSignal(json, 'abort', 'approve', { gate: 'join', by: 'eve', comment: 'go' }));
    const join = r3.gates.find((g) => g.gate === 'join');
    expect(join).toMatchObject({ outcome: 'approved', by: 'eve' });
    expect(join!.waitedMs).toBeGreaterThan(0);
    expect(r3.approvals.find((x) => x.by === 'eve')).toMatchObject({ effective: true, comment: 'go' });
  });

  it('escapes operator text in both formats', () => {
    const evil = '<script>alert(1)</script> | *x* & [y](z)';
    const r4 = audit(withSignal(json, 'abort', 'abort', { by: 'mallory', reason: evil }));
    const html = auditHtml(r4);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; | *x* &amp; [y](z)');
    expect(html).not.toMatch(/\ssrc=|href="http/);
    const md = auditMarkdown(r4);
    expect(md).not.toContain('<script>');
    expect(md).toContain('\\<script\\>alert(1)\\</script\\> \\| \\*x\\* & \\[y\\](z)');
  });
});

describe('audit of a completed run (fake activities)', () => {
  const r = load('histories/fake-activities-completed.json');

  it('has every phase in order, with durations, and every gate auto-approved', () => {
    expect(r.outcome.status).toBe('completed');
    expect(r.phases.map((p) => p.name)).toEqual([...PHASES]);
    expect(r.phases.every((p) => p.endedAt !== null && p.durationMs !== null)).toBe(true);
    expect(r.gates).toHaveLength(PHASES.length - 1);
    expect(r.gates.every((g) => g.outcome === 'auto-approved')).toBe(true);
    expect(r.rollback).toBeNull();
  });

  it('lists the 9 membership changes with member IDs, in order', () => {
    expect(r.membershipChanges.map((m) => `${m.kind} ${m.member} ${m.memberId}`)).toEqual([
      'add learner etcd-main-0 1000',
      'promote etcd-main-0 1000',
      'add learner etcd-main-1 1001',
      'promote etcd-main-1 1001',
      'add learner etcd-main-2 1002',
      'promote etcd-main-2 1002',
      'remove member etcd-2 102',
      'remove member etcd-1 101',
      'remove member etcd-0 100',
    ]);
    const md = auditMarkdown(r);
    expect(md).toContain('9 membership change(s)');
    expect(inOrder(md, ['| add learner | etcd-main-0 | 1000 |', '| remove member | etcd-0 | 100 |'])).toBe(
      true,
    );
  });
});

describe('audit of a real completed run (acceptance scenario in the sandbox)', () => {
  const r = load('audit-histories/real-completed.json');

  it('records the manual switch-clients approval: who, when, comment, client identity', () => {
    const approval = r.approvals.find((a) => a.gate === 'switch-clients');
    expect(approval).toEqual({
      at: '2026-11-25T18:01:09.182Z',
      gate: 'switch-clients',
      by: 'acceptance-test',
      comment: 'load client switched',
      via: 'approveGate update',
      identity: '29613@vm',
      effective: true,
    });
    const gate = r.gates.find((g) => g.gate === 'switch-clients');
    expect(gate).toMatchObject({
      mode: 'manual',
      phase: 'retire',
      outcome: 'approved',
      by: 'acceptance-test',
    });
    expect(gate!.waitedMs).toBe(Date.parse('2026-11-25T18:01:09.182Z') - Date.parse(gate!.reachedAt));
    expect(r.approvals.filter((a) => a.via === 'auto (spec)')).toHaveLength(7);
  });

  it("lists every membership change with its ID and the guard's verdict before it", () => {
    expect(r.membershipChanges.map((m) => `${m.kind} ${m.member} ${m.memberId}`)).toEqual([
      'add learner etcd-main-0 5516903021130705014',
      'promote etcd-main-0 5516903021130705014',
      'add learner etcd-main-1 2950292436023935218',
      'promote etcd-main-1 2950292436023935218',
      'add learner etcd-main-2 13750620222732966765',
      'promote etcd-main-2 13750620222732966765',
      'remove member etcd-2 878657231751590249',
      'remove member etcd-1 11345898006579400822',
      'remove member etcd-0 7168735187350299418',
    ]);
    expect(r.membershipChanges.every((m) => m.guard?.allowed === true)).toBe(true);
    expect(r.membershipChanges.map((m) => `${m.guard!.votersBefore}->${m.guard!.votersAfter}`)).toEqual([
      '3->3',
      '3->4',
      '4->4',
      '4->5',
      '5->5',
      '5->6',
      '6->5',
      '5->4',
      '4->3',
    ]);
    const html = auditHtml(r);
    expect(html).toContain(
      'allowed: remove etcd-0 (7168735187350299418) (voters 4 -&gt; 3, fault tolerance 1 -&gt; 1)',
    );
  });

  it('shows the hashKV and health evidence per step', () => {
    const verified = r.evidence.filter((e) => e.hashKv);
    expect(verified.length).toBeGreaterThanOrEqual(4);
    expect(verified.every((e) => e.hashKv!.agree)).toBe(true);
    const last = r.evidence.at(-1)!;
    expect(last.voters.sort()).toEqual(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    expect(last.leader).toBe('etcd-main-0');
    // Right after a removal the removed member no longer answers: expected, not unhealthy.
    const afterRemoval = r.evidence.find((e) => e.step.startsWith('removeMember: remove member etcd-2'));
    expect(afterRemoval).toMatchObject({ unhealthy: [], departed: ['etcd-2'] });
    const md = auditMarkdown(r);
    expect(md).toContain('agree at rev 10268 (3 members, 1 distinct hash: 127725633)');
  });

  it('reports the retried verifyConsistency step with the failure before its last attempt', () => {
    expect(r.failures).toEqual([]);
    expect(r.retries).toHaveLength(1);
    expect(r.retries[0]).toMatchObject({ seq: 22, attempts: 3, outcome: 'completed' });
    expect(r.retries[0]!.lastFailure).toContain('hashKV disagrees at revision 3413');
  });

  it('times the phases from the search-attribute upserts', () => {
    expect(r.phases.map((p) => p.name)).toEqual([...PHASES]);
    const retire = r.phases.find((p) => p.name === 'retire')!;
    expect(retire).toMatchObject({
      startedAt: '2026-11-25T17:59:08.869Z',
      endedAt: '2026-11-25T18:01:13.972Z',
    });
    expect(retire.durationMs).toBe(125_103);
    expect(r.durationMs).toBe(
      Date.parse('2026-11-25T18:01:19.733Z') - Date.parse('2026-11-25T17:58:03.125Z'),
    );
  });
});

describe('audit of a real run rolled back after a failed step', () => {
  const r = load('audit-histories/real-rolled-back.json');

  it('names the failed step, its error type and why retries stopped', () => {
    expect(r.outcome).toMatchObject({ status: 'rolled-back', failureType: 'MigrationRolledBack' });
    const stepFailure = r.failures.find((f) => f.seq !== null)!;
    expect(stepFailure).toMatchObject({
      seq: 13,
      type: 'MemberNotFound',
      attempts: 1,
      retryState: 'non-retryable failure',
    });
    expect(stepFailure.where).toBe('#13 awaitCatchUp: wait for etcd-main-0 to catch up');
  });

  it('undoes the join first (member removed before its pod stops), then the rest newest first', () => {
    expect(r.rollback!.trigger).toMatch(/^step #13 awaitCatchUp .* failed: no member with name etcd-main-0/);
    const comps = r.rollback!.compensations;
    expect(comps.map((c) => c.activityType)).toEqual([
      'removeLearner',
      'shrinkTarget',
      'removeDns',
      'removeDns',
      'deleteMemberServices',
      'deleteMemberServices',
      'deleteHeadlessService',
    ]);
    expect(comps[0]!.description).toBe('remove member etcd-main-0 (4160778321394788961)');
    const undone = comps.map((c) => c.undoes!.seq);
    expect(undone).toEqual([...undone].sort((a, b) => b - a));
    expect(r.rollback!.endedAt).not.toBeNull();
    const removal = r.membershipChanges.find((m) => m.kind === 'remove learner');
    expect(removal).toMatchObject({
      compensation: true,
      memberId: '4160778321394788961',
      outcome: 'completed',
    });
    const md = auditMarkdown(r);
    expect(md).toContain('| Final members | etcd-2, etcd-0, etcd-1 (last evidence, step \\#21) |');
    expect(md).toContain('remove learner (undo)');
    expect(md).toContain('MemberNotFound');
  });
});

describe('audit of a real run still rolling back', () => {
  const r = load('audit-histories/real-running-rollback.json');

  it('is running, with the step that failed after 8 attempts and a rollback not finished', () => {
    expect(r.outcome.status).toBe('running');
    expect(r.closedAt).toBeNull();
    expect(r.phases.at(-1)).toMatchObject({ name: 'join', endedAt: null });
    expect(r.retries).toEqual([expect.objectContaining({ seq: 11, attempts: 8, outcome: 'failed' })]);
    expect(r.failures[0]).toMatchObject({
      type: 'EtcdUnavailable',
      attempts: 8,
      retryState: 'maximum attempts reached',
    });
    expect(r.rollback).toMatchObject({ endedAt: null, durationMs: null });
    expect(r.rollback!.compensations.map((c) => c.activityType)).toEqual([
      'removeDns',
      'removeDns',
      'deleteMemberServices',
      'deleteMemberServices',
      'deleteHeadlessService',
    ]);
    expect(r.steps.at(-1)).toMatchObject({ activityType: 'observe', outcome: 'scheduled' });
    expect(auditMarkdown(r)).toContain('still running');
  });
});

/** `#seq activityType -> #seq activityType` of each compensation and the step it undoes. */
const undoPairs = (r: ReturnType<typeof audit>) =>
  r.rollback!.compensations.map(
    (c) => `#${c.seq} ${c.activityType} -> #${c.undoes?.seq} ${c.undoes?.activityType}`,
  );

/** The TLS run's undos of the dns and expose phases, the same with and without `undoes`. */
const TLS_RUN_DNS_AND_EXPOSE_UNDOS = [
  '#33 removeDns -> #11 configureDns',
  '#34 removeDns -> #10 configureDns',
  '#35 deleteIssuedCertificates -> #9 issueCertificates',
  '#36 deleteMemberServices -> #6 ensureMemberServices',
  '#37 deleteMemberServices -> #5 ensureMemberServices',
  '#38 deleteHeadlessService -> #4 ensureHeadlessService',
];

/** The TLS run's undos paired by `undoes`: each join undo with the very step it reverses. */
const TLS_RUN_UNDOS_BY_STEP_ID = [
  '#26 moveLeader -> #24 moveLeader',
  '#27 removeLearner -> #20 addLearner',
  '#28 shrinkTarget -> #21 scaleTarget',
  '#29 removeLearner -> #16 addLearner',
  '#30 shrinkTarget -> #17 scaleTarget',
  '#31 removeLearner -> #12 addLearner',
  '#32 shrinkTarget -> #13 scaleTarget',
  ...TLS_RUN_DNS_AND_EXPOSE_UNDOS,
];

describe('audit of a TLS run aborted at the switch-clients gate (recorded before stepId/undoes)', () => {
  const r = load('histories/before-step-executors-aborted.json');

  it('lists deleteIssuedCertificates as the compensation of issueCertificates, newest first with the rest', () => {
    expect(r.outcome.status).toBe('aborted');
    expect(r.gates.find((g) => g.gate === 'switch-clients')?.outcome).toBe('aborted while waiting');
    expect(r.rollback!.trigger).toBe('abort by dave: baseline abort');
    expect(undoPairs(r)).toEqual([
      '#26 moveLeader -> #24 moveLeader',
      '#27 removeLearner -> #21 scaleTarget',
      '#28 shrinkTarget -> #21 scaleTarget',
      '#29 removeLearner -> #17 scaleTarget',
      '#30 shrinkTarget -> #17 scaleTarget',
      '#31 removeLearner -> #13 scaleTarget',
      '#32 shrinkTarget -> #13 scaleTarget',
      ...TLS_RUN_DNS_AND_EXPOSE_UNDOS,
    ]);
    const undone = r.rollback!.compensations.map((c) => c.undoes!.seq);
    expect(undone).toEqual([...undone].sort((a, b) => b - a));
    expect(r.steps.find((s) => s.activityType === 'deleteIssuedCertificates')).toMatchObject({
      seq: 35,
      role: 'compensation',
      description: 'delete the issued certificate Secrets',
      result: 'deleted peer-tls',
    });
    expect(r.notes.join('\n')).toContain('predates plan-step ids');
    expect(auditMarkdown(r)).toContain(
      '| deleteIssuedCertificates: delete the issued certificate Secrets | \\#9 issueCertificates: issue certificates for etcd-main-0, etcd-main-1, etcd-main-2 |',
    );
  });
});

describe('audit of the TLS run with stepId/undoes in its activity inputs (the refactored workflow)', () => {
  const json = withPlanStepFields(readJson('histories/before-step-executors-aborted.json'), planStepFields);

  it('pairs each compensation with the newest completed step whose stepId its `undoes` names', () => {
    const r = audit(json);
    expect(undoPairs(r)).toEqual(TLS_RUN_UNDOS_BY_STEP_ID);
    expect(r.steps.find((s) => s.seq === 35)).toMatchObject({
      role: 'compensation',
      description: 'delete the issued certificate Secrets; undoes expose/target/issue-certificates',
    });
    expect(r.notes.join('\n')).not.toContain('predates plan-step ids');
  });

  it('follows `undoes` where the activity types would say otherwise', () => {
    // removeLearner undoes add-learner: the legacy rules pair it with the member's newer scaleTarget.
    expect(undoPairs(load('histories/before-step-executors-aborted.json'))[1]).toBe(
      '#27 removeLearner -> #21 scaleTarget',
    );
    expect(undoPairs(audit(json))[1]).toBe('#27 removeLearner -> #20 addLearner');
    // A deliberately surprising pairing: only `undoes` says that this undoes the member Services.
    const surprising = audit(
      withPlanStepFields(json, (a) =>
        a.type === 'deleteHeadlessService' ? { undoes: 'expose/target/create-member-services' } : {},
      ),
    );
    expect(surprising.rollback!.compensations.at(-1)!.undoes).toEqual({
      seq: 6,
      activityType: 'ensureMemberServices',
      description: 'create member LoadBalancer Services for etcd-main-0, etcd-main-1, etcd-main-2 (target)',
      at: surprising.steps[5]!.scheduledAt,
    });
  });

  it('takes a step for a compensation only when its input carries `undoes`', () => {
    // removeDns as the cleanup phase calls it: a forward step (a stepId, no undoes).
    const r = audit(
      withPlanStepFields(json, (a) =>
        a.type === 'removeDns' && a.input.side === 'source'
          ? { stepId: 'cleanup/source/cleanup-dns', undoes: undefined }
          : {},
      ),
    );
    expect(r.steps.find((s) => s.seq === 34)).toMatchObject({ activityType: 'removeDns', role: 'forward' });
    expect(r.rollback!.compensations.map((c) => c.seq)).not.toContain(34);
    expect(r.rollback!.compensations).toHaveLength(12);
  });

  it('keeps the undo of a failed join apart from the forward moveLeader and the cleanup phase', () => {
    const r = audit(
      withPlanStepFields(readJson('histories/before-step-executors-join-retried.json'), planStepFields),
    );
    expect(
      r.steps.filter((s) => s.role === 'compensation').map((s) => `#${s.seq} ${s.activityType}`),
    ).toEqual(['#19 removeLearner', '#20 shrinkTarget']);
    // The retried join's undo reverses the first attempt (#16, #17), not the retry (#22, #23).
    expect(undoPairs(r)).toEqual([
      '#19 removeLearner -> #16 addLearner',
      '#20 shrinkTarget -> #17 scaleTarget',
    ]);
    for (const type of ['moveLeader', 'removeDns', 'deleteMemberServices'])
      expect(r.steps.find((s) => s.activityType === type)?.role).toBe('forward');
    expect(r.membershipChanges.filter((m) => m.compensation).map((m) => `${m.kind} ${m.member}`)).toEqual([
      'remove learner etcd-main-1',
    ]);
  });
});

describe('audit of a TLS run recorded from the step executors (stepId/undoes as the workflow sends them)', () => {
  const r = load('histories/step-executors-aborted-tls.json');

  it('reads every pairing from the history, deleteIssuedCertificates as the undo of issueCertificates', () => {
    expect(r.outcome.status).toBe('aborted');
    expect(r.notes.join('\n')).not.toContain('predates plan-step ids');
    expect(undoPairs(r)).toEqual(TLS_RUN_UNDOS_BY_STEP_ID);
    expect(r.steps.filter((s) => s.role === 'forward').map((s) => s.activityType)).not.toContain(
      'deleteIssuedCertificates',
    );
  });
});

describe('audit of what a membership change waited for etcd', () => {
  it('shows the wait a result reports, with its plan step; none in results recorded before it', () => {
    const json = readJson('histories/step-executors-aborted-tls.json');
    const before = audit(json);
    const promote = before.membershipChanges.find((m) => m.kind === 'promote' && m.outcome === 'completed');
    if (!promote) throw new Error('no completed promote in the fixture');
    expect(promote.etcdWaitMs).toBeNull();
    expect(promote.appliedAt).toBeNull();
    expect(promote.stepId).toMatch(/\/promote$/);
    // The same history with the promote's result as activities now report it.
    const copy = structuredClone(json);
    const scheduled = copy.events.find((e) => {
      const a = e.activityTaskScheduledEventAttributes as
        { activityType: { name: string }; input: Payloads } | undefined;
      return (
        a?.activityType.name === 'promote' &&
        (payloadValue(a.input) as { member?: string }).member === promote.member
      );
    })!;
    const mine = copy.events.find(
      (e) =>
        String(
          (e.activityTaskCompletedEventAttributes as { scheduledEventId?: unknown } | undefined)
            ?.scheduledEventId,
        ) === String(scheduled.eventId),
    )!;
    const result = (mine.activityTaskCompletedEventAttributes as { result: Payloads }).result;
    setPayloadValue(result, {
      ...(payloadValue(result) as object),
      etcdWaitMs: 3400,
      appliedAt: '2026-12-07T06:00:01.500Z',
    });
    const after = audit(copy);
    const changed = after.membershipChanges.find((m) => m.seq === promote.seq)!;
    expect(changed.etcdWaitMs).toBe(3400);
    expect(changed.appliedAt).toBe('2026-12-07T06:00:01.500Z');
    expect(auditMarkdown(after)).toContain('done (waited 3.4 s for etcd)');
  });
});

describe('audit helpers', () => {
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(999)).toBe('999 ms');
    expect(formatDuration(4_406)).toBe('4.4 s');
    expect(formatDuration(125_103)).toBe('2 min 5 s');
    expect(formatDuration(3_725_000)).toBe('1 h 2 min');
  });

  it('escapes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeMarkdown('a|b\nc_d')).toBe('a\\|b c\\_d');
  });

  it('refuses something that is not a workflow history', () => {
    expect(() => buildAudit({ events: [] })).toThrow(/not a workflow history/);
  });
});
