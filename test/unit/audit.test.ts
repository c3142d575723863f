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

type JsonHistory = { events: Record<string, unknown>[] };

function readJson(file: string): JsonHistory {
  return JSON.parse(fs.readFileSync(path.join('test', 'fixtures', file), 'utf8')) as JsonHistory;
}
const audit = (json: JsonHistory) => buildAudit(historyFromJSON(json));
const load = (file: string) => audit(readJson(file));

/** Replaces the (single-payload) input of the first signal named `name` in an exported history. */
function withSignal(json: JsonHistory, name: string, signalName: string, arg: unknown): JsonHistory {
  const copy = structuredClone(json);
  const event = copy.events.find(
    (e) =>
      (e.workflowExecutionSignaledEventAttributes as { signalName?: string } | undefined)?.signalName ===
      name,
  );
  if (!event) throw new Error(`no ${name} signal in the fixture`);
  const attrs = event.workflowExecutionSignaledEventAttributes as {
    signalName: string;
    input: { payloads: { data: string }[] };
  };
  attrs.signalName = signalName;
  attrs.input.payloads[0]!.data = Buffer.from(JSON.stringify(arg)).toString('base64');
  return copy;
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
