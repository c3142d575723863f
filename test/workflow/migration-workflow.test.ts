import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { toolPath } from '../../sandbox/config.js';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
} from '../../workflows/messages.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { nonRetryable, retryable, type Call, type FakeOptions } from './fake-activities.js';
import {
  allGates,
  runWithFakes,
  startTestEnvironment,
  statusOf,
  waitForStatus,
  workflowBundle,
  type Fake,
  type MigrationHandle,
} from './harness.js';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const run = <T>(
  specOverrides: Record<string, unknown>,
  fakeOptions: FakeOptions,
  drive: (handle: MigrationHandle, fake: Fake) => Promise<T>,
) => runWithFakes(env, specOverrides, fakeOptions, drive);

/** Replays a finished run's history against the current workflow code; with RECORD_HISTORIES=1 also saves it. */
async function replays(handle: WorkflowHandle<typeof etcdMigration>, fixtureName?: string): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
  if (fixtureName && process.env.RECORD_HISTORIES === '1') {
    const dir = path.join('test', 'fixtures', 'histories');
    fs.mkdirSync(dir, { recursive: true });
    // The same export an operator makes: `temporal workflow show --output json`.
    const json = execFileSync(
      toolPath('temporal'),
      ['workflow', 'show', '--address', env.address, '--workflow-id', handle.workflowId, '--output', 'json'],
      {
        encoding: 'utf8',
      },
    );
    fs.writeFileSync(path.join(dir, `${fixtureName}.json`), json);
  }
}

const names = (calls: Call[]) => calls.map((c) => `${c.name} ${c.detail}`.trim());
const UNDO = new Set([
  'deleteHeadlessService',
  'deleteMemberServices',
  'removeDns',
  'removeLearner',
  'shrinkTarget',
]);

describe('migration workflow (fake activities)', () => {
  it('runs every step of the plan in order with all gates on auto', async () => {
    const { result, fake } = await run({ gates: allGates('auto') }, {}, async (h) => {
      const r = await h.result();
      await replays(h, 'sides-together-completed');
      return r;
    });
    expect(result.outcome).toBe('completed');
    expect(result.finalMembers.map((m) => m.name).sort()).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
    expect(result.finalMembers.every((m) => !m.isLearner)).toBe(true);
    const calls = names(fake.calls);
    // Membership: one change at a time, learners before promotion, removals highest ordinal first.
    const membership = calls.filter((c) => /^(addLearner|promote|removeMember|moveLeader)/.test(c));
    expect(membership).toEqual([
      'addLearner etcd-main-0',
      'promote etcd-main-0',
      'addLearner etcd-main-1',
      'promote etcd-main-1',
      'addLearner etcd-main-2',
      'moveLeader etcd-main-0',
      'promote etcd-main-2',
      'removeMember etcd-2',
      'removeMember etcd-1',
      'removeMember etcd-0',
    ]);
    expect(calls.indexOf('scaleTarget etcd-main-1 2')).toBeGreaterThan(
      calls.indexOf('addLearner etcd-main-1'),
    );
    expect(calls.indexOf('scaleSource 2')).toBeGreaterThan(calls.indexOf('removeMember etcd-2'));
    // Nothing was undone; DNS entries and member Services go only in the cleanup phase.
    const finalized = calls.findIndex((c) => c.startsWith('finalizeTarget'));
    expect(finalized).toBeGreaterThan(0);
    expect(calls.slice(0, finalized).some((c) => UNDO.has(c.split(' ')[0]!))).toBe(false);
    expect(calls.some((c) => /^(removeLearner|shrinkTarget|deleteHeadlessService)/.test(c))).toBe(false);
    expect(result.phases.map((p) => p.name)).toEqual([
      'preflight',
      'shrink',
      'expose',
      'dns',
      'join',
      'leader',
      'retire',
      'finalize',
      'cleanup',
    ]);
    expect(fake.world.sourceReplicas).toBe(0);
  });

  it('runs every cleanup the spec asks for in both clusters at once, then deletes the old StatefulSet', async () => {
    const cleanup = { deletePVCs: true, removeSourceClusterDns: true, deleteTargetMemberServices: true };
    const { result, fake } = await run({ gates: allGates('auto'), cleanup }, {}, async (h) => ({
      r: await h.result(),
      status: await statusOf(h),
    }));
    expect(result.r.outcome).toBe('completed');
    const group = result.status.plan!.steps.filter(
      (s) => s.phase === 'cleanup' && /cleanup-(dns|member-services)$/.test(s.id),
    );
    expect(group.map((s) => s.id)).toEqual([
      'cleanup/target/cleanup-dns',
      'cleanup/source/cleanup-dns',
      'cleanup/source/cleanup-member-services',
      'cleanup/target/cleanup-member-services',
    ]);
    expect(group.every((s) => s.state === 'done')).toBe(true);
    // Started together, in one workflow task.
    expect(new Set(group.map((s) => s.startedAt)).size).toBe(1);
    const calls = names(fake.calls);
    const deleted = calls.indexOf('cleanupSourceStatefulSet');
    for (const c of [
      'removeDns target',
      'removeDns source',
      'deleteMemberServices source',
      'deleteMemberServices target',
    ]) {
      const at = Math.max(...calls.map((x, i) => (x.startsWith(c) ? i : -1)));
      expect(at, c).toBeGreaterThanOrEqual(0);
      expect(at, c).toBeLessThan(deleted);
    }
    expect(calls.indexOf('cleanupSourcePvcs etcd-0,etcd-1,etcd-2')).toBeGreaterThan(deleted);
    expect([...fake.world.dns.source, ...fake.world.dns.target]).toEqual([]);
    expect([...fake.world.memberServices.source, ...fake.world.memberServices.target]).toEqual([]);
  });

  it('waits at manual gates, refuses approving a gate that is not waiting, and records who approved', async () => {
    const { result } = await run(
      { gates: allGates('auto', { 'switch-clients': 'manual', cleanup: 'manual' }) },
      {},
      async (h) => {
        const waiting = await waitForStatus(
          h,
          'switch-clients gate',
          (s) => s.waitingFor?.kind === 'approval',
        );
        expect(waiting.waitingFor).toMatchObject({ kind: 'approval', gate: 'switch-clients' });
        expect(waiting.workflowState).toBe('waiting-approval');
        expect(waiting.clientsSwitched).toBe(false);
        // The leader already moved to a new member; no old member was removed yet.
        expect(waiting.members.filter((m) => m.side === 'source')).toHaveLength(3);
        await expect(
          h.executeUpdate(approveUpdate, { args: [{ gate: 'cleanup', by: 'mallory' }] }),
        ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
        await h.signal(approveSignal, { gate: 'cleanup', by: 'mallory' }); // ignored, noted
        await h.executeUpdate(approveUpdate, {
          args: [{ gate: 'switch-clients', by: 'alice', comment: 'clients moved' }],
        });
        const atCleanup = await waitForStatus(
          h,
          'cleanup gate',
          (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'cleanup',
        );
        expect(atCleanup.clientsSwitched).toBe(true);
        expect(atCleanup.notices.some((n) => n.includes('mallory'))).toBe(true);
        await h.signal(approveSignal, { gate: 'cleanup', by: 'bob' });
        const r = await h.result();
        const s = await statusOf(h);
        return { r, s };
      },
    );
    expect(result.r.outcome).toBe('completed');
    const manual = result.s.approvals.filter((a) => a.mode === 'manual');
    expect(manual.map((a) => [a.gate, a.by, a.comment])).toEqual([
      ['switch-clients', 'alice', 'clients moved'],
      ['cleanup', 'bob', undefined],
    ]);
  });

  it('pauses between steps and resumes', async () => {
    const { result, fake } = await run(
      { gates: allGates('auto', { 'switch-clients': 'manual' }) },
      {},
      async (h, f) => {
        await waitForStatus(h, 'switch-clients gate', (s) => s.waitingFor?.kind === 'approval');
        await h.signal(pauseSignal, { by: 'carol', reason: 'change freeze' });
        await h.signal(approveSignal, { gate: 'switch-clients', by: 'alice' });
        const paused = await waitForStatus(h, 'paused', (s) => s.workflowState === 'paused');
        expect(paused.waitingFor).toMatchObject({ kind: 'resume', by: 'carol', reason: 'change freeze' });
        const callsWhilePaused = f.calls.length;
        // Still paused after the workflow had every chance to go on: it is waiting for the resume signal.
        const again = await statusOf(h);
        expect(again.workflowState).toBe('paused');
        expect(f.calls.length).toBe(callsWhilePaused);
        expect(f.calls.some((c) => c.name === 'removeMember')).toBe(false);
        await h.signal(resumeSignal, { by: 'carol' });
        return await h.result();
      },
    );
    expect(result.outcome).toBe('completed');
    expect(fake.calls.filter((c) => c.name === 'removeMember')).toHaveLength(3);
  });

  const gatesBeforeSwitch = ['shrink', 'expose', 'dns', 'join', 'leader', 'switch-clients'] as const;
  for (const gate of gatesBeforeSwitch) {
    it(`abort at the ${gate} gate undoes everything done so far, newest first`, async () => {
      const { result, fake } = await run({ gates: allGates('auto', { [gate]: 'manual' }) }, {}, async (h) => {
        await waitForStatus(
          h,
          `${gate} gate`,
          (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === gate,
        );
        await h.signal(abortSignal, { by: 'dave', reason: `test abort at ${gate}` });
        const r = await h.result();
        await replays(h, gate === 'join' ? 'fake-activities-aborted-at-join' : undefined);
        return r;
      });
      expect(result.outcome).toBe('aborted');
      expect(result.reason).toContain('dave');
      const calls = names(fake.calls);
      const firstUndo = calls.findIndex(
        (c) => UNDO.has(c.split(' ')[0]!) || c.startsWith('moveLeader etcd-0'),
      );
      const done = calls.slice(0, firstUndo < 0 ? calls.length : firstUndo);
      const undo = calls.slice(firstUndo < 0 ? calls.length : firstUndo).filter((c) => c !== 'observe');
      const expected: string[] = [];
      // Newest first: what was done, reversed, mapped to its undo.
      for (const c of [...done].reverse()) {
        const [name, ...rest] = c.split(' ');
        const detail = rest.join(' ');
        if (name === 'moveLeader') expected.push('moveLeader etcd-0');
        if (name === 'scaleTarget') {
          const [member, replicas] = detail.split(' ');
          expected.push(`removeLearner ${member}`, `shrinkTarget ${Number(replicas) - 1} ${member}`);
        }
        if (name === 'addLearner' && !done.some((d) => d.startsWith(`scaleTarget ${detail} `)))
          expected.push(`removeLearner ${detail}`);
        if (name === 'configureDns') {
          const side = detail.split(' ')[0];
          const hostnames = detail
            .split(' ')[2]!
            .split(',')
            .map((e) => e.split('=')[0]);
          expect(undo.some((u) => u.startsWith(`removeDns ${side} ${hostnames[0]}`))).toBe(true);
          expected.push(undo.find((u) => u.startsWith(`removeDns ${side} `))!);
        }
        if (name === 'ensureMemberServices') expected.push(`deleteMemberServices ${detail}`);
        if (name === 'ensureHeadlessService') expected.push(`deleteHeadlessService ${detail}`);
      }
      expect(undo).toEqual(expected);
      // Nothing of the target is left in the model; the source is untouched.
      expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
      expect(fake.world.members.every((m) => !m.isLearner)).toBe(true);
      expect(fake.world.targetExists).toBe(false);
      expect(fake.world.sourceReplicas).toBe(3);
      expect([...fake.world.memberServices.source, ...fake.world.memberServices.target]).toEqual([]);
      expect([...fake.world.dns.source, ...fake.world.dns.target]).toEqual([]);
      expect(fake.world.headless.size).toBe(0);
      expect(fake.world.leader).toBe('etcd-0');
    });
  }

  it('rolls back when a step fails for good before the client switch, and fails the run', async () => {
    const { result, fake } = await run(
      { gates: allGates('auto') },
      {
        failWhen: (c) =>
          c.name === 'verifyConsistency' ? nonRetryable('hashKV disagrees at revision 42') : undefined,
      },
      async (h) => {
        const err = await h.result().catch((e: unknown) => e);
        return { err, status: await statusOf(h) };
      },
    );
    expect(result.err).toBeInstanceOf(WorkflowFailedError);
    expect(String((result.err as WorkflowFailedError).cause?.message)).toContain('rolled back');
    expect(String((result.err as WorkflowFailedError).cause?.message)).toContain('hashKV disagrees');
    expect(result.status.workflowState).toBe('rolled-back');
    expect(result.status.plan?.steps.find((s) => s.state === 'failed')?.kind).toBe('verify-consistency');
    const calls = names(fake.calls);
    const undoStart = calls.indexOf('removeLearner etcd-main-2');
    expect(calls.slice(undoStart, undoStart + 6)).toEqual([
      'removeLearner etcd-main-2',
      'shrinkTarget 2 etcd-main-2',
      'removeLearner etcd-main-1',
      'shrinkTarget 1 etcd-main-1',
      'removeLearner etcd-main-0',
      'shrinkTarget 0 etcd-main-0',
    ]);
    expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  });

  it('undoes a failed join on its own and pauses; resume retries that join and the run completes', async () => {
    const { result, fake } = await run(
      { gates: allGates('auto') },
      {
        failWhen: (c, attempt) =>
          c.name === 'awaitCatchUp' && c.detail === 'etcd-main-1' && attempt === 1
            ? nonRetryable('pod etcd-main-1 is not running: container etcd restarted 3 times')
            : undefined,
      },
      async (h, f) => {
        const paused = await waitForStatus(
          h,
          'the pause after the failed join',
          (s) => s.paused?.by === 'etcd-stretch',
        );
        const callsWhenPaused = names(f.calls);
        await h.signal(resumeSignal, { by: 'operator' });
        const outcome = (await h.result()).outcome;
        await replays(h, 'fake-activities-join-retried');
        return { paused, callsWhenPaused, outcome, status: await statusOf(h) };
      },
    );
    expect(result.paused.workflowState).toBe('paused');
    expect(result.paused.paused?.reason).toMatch(
      /join of etcd-main-1 failed at .*await-catch-up: pod etcd-main-1 is not running.*resume to retry/,
    );
    expect(result.paused.plan?.steps.filter((s) => s.state === 'undone').map((s) => s.kind)).toEqual([
      'add-learner',
      'scale-target',
    ]);
    // Only that join was undone, in the safe order: leave the cluster, then stop the pod.
    expect(result.callsWhenPaused.slice(-3)).toEqual([
      'removeLearner etcd-main-1',
      'shrinkTarget 1 etcd-main-1 keep-headless-service',
      'observe',
    ]);
    expect(result.outcome).toBe('completed');
    const calls = names(fake.calls);
    expect(calls.filter((c) => c === 'addLearner etcd-main-1')).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith('removeLearner'))).toEqual(['removeLearner etcd-main-1']);
    expect(fake.world.members.filter((m) => m.side === 'target').map((m) => m.name)).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
  });

  it('every undo names the plan step it reverses, and that step ran before it (TLS, abort at switch-clients)', async () => {
    const { result, fake } = await run(
      {
        gates: allGates('auto', { 'switch-clients': 'manual' }),
        tls: { peer: { issueFrom: { caSecret: 'etcd-ca' } } },
      },
      {},
      async (h) => {
        await waitForStatus(
          h,
          'switch-clients gate',
          (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients',
        );
        await h.signal(abortSignal, { by: 'dave', reason: 'undo pairing test' });
        const r = await h.result();
        await replays(h, 'sides-together-aborted-tls');
        return r;
      },
    );
    expect(result.outcome).toBe('aborted');
    const undos = fake.links.filter((l) => l.undoes !== undefined);
    const forward = fake.links.filter((l) => l.undoes === undefined && l.name !== 'observe');
    expect(forward.every((l) => l.name === 'preflight' || l.stepId !== undefined)).toBe(true);
    const pairs = undos.map((u) => {
      const at = fake.links.indexOf(u);
      const done = fake.links.slice(0, at).filter((l) => l.stepId === u.undoes);
      expect(done.length, `${u.name} undoes ${u.undoes}, which ran before it`).toBeGreaterThan(0);
      return `${u.name} <- ${done.at(-1)!.name} ${u.undoes}`;
    });
    expect(pairs).toEqual([
      'moveLeader <- moveLeader leader/move-leader',
      'removeLearner <- addLearner join/etcd-main-2/add-learner',
      'shrinkTarget <- scaleTarget join/etcd-main-2/scale-target',
      'removeLearner <- addLearner join/etcd-main-1/add-learner',
      'shrinkTarget <- scaleTarget join/etcd-main-1/scale-target',
      'removeLearner <- addLearner join/etcd-main-0/add-learner',
      'shrinkTarget <- scaleTarget join/etcd-main-0/scale-target',
      'removeDns <- configureDns dns/target/configure-dns',
      'removeDns <- configureDns dns/source/configure-dns',
      'deleteIssuedCertificates <- issueCertificates expose/target/issue-certificates',
      'deleteMemberServices <- ensureMemberServices expose/target/create-member-services',
      'deleteMemberServices <- ensureMemberServices expose/source/create-member-services',
      'deleteHeadlessService <- ensureHeadlessService expose/target/create-headless-service',
    ]);
  });

  it('abort while paused after a failed join rolls back the rest, newest first', async () => {
    const { result, fake } = await run(
      { gates: allGates('auto') },
      {
        failWhen: (c) =>
          c.name === 'awaitCatchUp' && c.detail === 'etcd-main-1'
            ? nonRetryable('never caught up')
            : undefined,
      },
      async (h) => {
        await waitForStatus(h, 'the pause after the failed join', (s) => s.paused?.by === 'etcd-stretch');
        await h.signal(abortSignal, { by: 'operator', reason: 'give up' });
        return { result: await h.result(), status: await statusOf(h) };
      },
    );
    expect(result.result.outcome).toBe('aborted');
    const calls = names(fake.calls);
    const undoStart = calls.indexOf('removeLearner etcd-main-0');
    expect(calls.slice(undoStart, undoStart + 2)).toEqual([
      'removeLearner etcd-main-0',
      'shrinkTarget 0 etcd-main-0',
    ]);
    expect(calls.filter((c) => c.startsWith('removeLearner etcd-main-1'))).toHaveLength(1);
    expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    expect(fake.world.targetExists).toBe(false);
  });

  it('an abort while a learner is being added still removes that learner', async () => {
    let handle: WorkflowHandle<typeof etcdMigration> | undefined;
    const { result, fake } = await run(
      { gates: allGates('auto') },
      {
        onCall: (c) => {
          // The add goes through in etcd while the abort arrives.
          if (c.name === 'addLearner' && c.detail === 'etcd-main-1')
            void handle?.signal(abortSignal, { by: 'operator', reason: 'during the add' });
        },
      },
      async (h) => {
        handle = h;
        return h.result();
      },
    );
    expect(result.outcome).toBe('aborted');
    const calls = names(fake.calls);
    expect(calls).toContain('removeLearner etcd-main-1');
    expect(fake.world.members.map((m) => m.name)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  });

  it('retries an activity that fails with a retryable error and goes on', async () => {
    const { result, fake } = await run(
      { gates: allGates('auto') },
      {
        failWhen: (c, attempt) =>
          c.name === 'promote' && c.detail === 'etcd-main-0' && attempt <= 2
            ? retryable('etcdserver: unhealthy cluster')
            : undefined,
      },
      (h) => h.result(),
    );
    expect(result.outcome).toBe('completed');
    expect(fake.calls.filter((c) => c.name === 'promote' && c.detail === 'etcd-main-0')).toHaveLength(1);
  });

  it('after the client switch, abort stops at the next safe point instead of rolling back', async () => {
    const { result, fake } = await run({ gates: allGates('auto', { finalize: 'manual' }) }, {}, async (h) => {
      const at = await waitForStatus(
        h,
        'finalize gate',
        (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'finalize',
      );
      expect(at.clientsSwitched).toBe(true);
      await h.signal(abortSignal, { by: 'erin', reason: 'second thoughts' });
      return { r: await h.result(), s: await statusOf(h) };
    });
    expect(result.r.outcome).toBe('stopped');
    expect(result.r.reason).toContain('reverse migration');
    expect(result.s.workflowState).toBe('stopped');
    expect(fake.calls.some((c) => UNDO.has(c.name))).toBe(false);
    expect(fake.calls.filter((c) => c.name === 'removeMember')).toHaveLength(3);
    expect(fake.calls.some((c) => c.name === 'finalizeTarget')).toBe(false);
    expect(result.r.finalMembers.map((m) => m.name).sort()).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
  });

  it('refuses to start when preflight finds problems, and changes nothing', async () => {
    const { result, fake } = await run(
      {},
      { refusals: ['StatefulSet default/etcd-main already exists in target'] },
      async (h) => h.result().catch((e: unknown) => e),
    );
    expect(result).toBeInstanceOf(WorkflowFailedError);
    expect(String((result as WorkflowFailedError).cause?.message)).toContain('etcd-main already exists');
    expect(names(fake.calls)).toEqual(['preflight etcd']);
  });
});
