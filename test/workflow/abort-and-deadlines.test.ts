/**
 * Issue #16 with fake activities: an abort waits for the activity in flight before the rollback
 * starts (an add or a scale that lands late is still undone); an abort that comes with an
 * approval wins; and the spec's deadlines are the timeouts the activities run with.
 */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { abortSignal, approveSignal } from '../../workflows/messages.js';
import { createFakeActivities, type Call } from './fake-activities.js';
import {
  allGates,
  createWorker,
  runWithFakes,
  startMigration,
  statusOf,
  useTestEnvironment,
  waitForStatus,
  workflowBundle,
  type Fake,
  type MigrationHandle,
} from './harness.js';

const env = useTestEnvironment();

async function replays(handle: MigrationHandle): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
}

const names = (calls: Call[]) => calls.map((c) => `${c.name} ${c.detail}`.trim());
const UNDO = /^(removeLearner|shrinkTarget|removeDns|delete\w+|moveLeader etcd-0)/;

/** Event ids: when the slow call ended, and when the first undo (an input with `undoes`) was scheduled. */
async function undoOrder(
  h: MigrationHandle,
  slow: Call,
): Promise<{ slowEnded: number; firstUndoScheduled: number }> {
  const events = (await h.fetchHistory()).events ?? [];
  const inputOf = (e: (typeof events)[number]) => {
    const data = e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data;
    return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>) : {};
  };
  const scheduled = events.filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === slow.name,
  );
  const slowId = Number(scheduled.at(-1)?.eventId);
  const ended = events.find((e) => {
    const a =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskCanceledEventAttributes ??
      e.activityTaskFailedEventAttributes;
    return a && Number(a.scheduledEventId) === slowId;
  });
  const undo = events.find((e) => e.activityTaskScheduledEventAttributes && inputOf(e).undoes !== undefined);
  return { slowEnded: Number(ended?.eventId ?? Infinity), firstUndoScheduled: Number(undo?.eventId ?? -1) };
}

/** The source as it was, and nothing of the target left. */
function expectRolledBack(world: Fake['world']): void {
  expect(world.members.map((m) => `${m.name}${m.isLearner ? ' (learner)' : ''}`)).toEqual([
    'etcd-0',
    'etcd-1',
    'etcd-2',
  ]);
  expect(world.targetExists).toBe(false);
  expect(world.sourceReplicas).toBe(3);
  expect(world.headless.size).toBe(0);
  expect([...world.dns.source, ...world.dns.target]).toEqual([]);
}

/**
 * A run with every gate on auto whose call `slow` is held until `land()`; `drive` starts once
 * the call was made.
 */
function runHolding<T>(
  slow: Call,
  drive: (h: MigrationHandle, f: Fake, land: () => void) => Promise<T>,
): Promise<{ result: T; fake: Fake }> {
  let entered = (): void => undefined;
  let land = (): void => undefined;
  const inFlight = new Promise<void>((resolve) => (entered = resolve));
  const landed = new Promise<void>((resolve) => (land = resolve));
  const holdWhen = (c: Call) => {
    if (c.name !== slow.name || c.detail !== slow.detail) return undefined;
    entered();
    return landed;
  };
  return runWithFakes(env(), { gates: allGates('auto') }, { holdWhen }, async (h, f) => {
    await inFlight;
    return drive(h, f, () => land());
  });
}

describe('an abort waits for what is in flight', () => {
  const slowCalls: [string, Call][] = [
    ['an add-learner', { name: 'addLearner', detail: 'etcd-main-1' }],
    ['a scale-target', { name: 'scaleTarget', detail: 'etcd-main-0 1' }],
  ];
  it.each(slowCalls)('%s that lands after the abort is still undone', async (_, slow) => {
    const { result, fake } = await runHolding(slow, async (h, f, land) => {
      await h.signal(abortSignal, { by: 'dave', reason: `abort during ${slow.name}` });
      // The abort's workflow task has run: without the wait, it had begun the rollback already.
      const afterAbort = await waitForStatus(h, 'the abort', (s) => s.abort !== null);
      const beforeLanding = names(f.calls);
      land();
      const r = await h.result();
      await replays(h);
      return { r, afterAbort, beforeLanding, status: await statusOf(h), order: await undoOrder(h, slow) };
    });
    expect(result.afterAbort.workflowState).toBe('running');
    // In the history, the first undo is scheduled only after the slow call has ended.
    expect(result.order.firstUndoScheduled).toBeGreaterThan(result.order.slowEnded);
    expect(result.beforeLanding.at(-1)).toBe(`${slow.name} ${slow.detail}`);
    expect(result.beforeLanding.filter((c) => UNDO.test(c))).toEqual([]);
    expect(result.r.outcome).toBe('aborted');
    expect(result.r.reason).toContain('dave');
    expect(result.status.compensations.every((c) => c.state === 'done')).toBe(true);
    const calls = names(fake.calls);
    const member = slow.detail.split(' ')[0]!;
    expect(calls.indexOf(`removeLearner ${member}`)).toBeGreaterThan(
      calls.indexOf(`${slow.name} ${slow.detail}`),
    );
    expectRolledBack(fake.world);
  });
});

describe('an abort while steps run together', () => {
  it('waits for each of them, then undoes every one that ran', async () => {
    const slow: Call = { name: 'ensureMemberServices', detail: 'target etcd-main-0,etcd-main-1,etcd-main-2' };
    const { result, fake } = await runHolding(slow, async (h, f, land) => {
      // The source's Services, beside it, are done while the target's are held.
      const beside = await waitForStatus(
        h,
        "the source's Services",
        (s) => s.plan?.steps.find((p) => p.id === 'expose/source/create-member-services')?.state === 'done',
      );
      await h.signal(abortSignal, { by: 'dave', reason: 'abort while both clusters are exposed' });
      await waitForStatus(h, 'the abort', (s) => s.abort !== null);
      const beforeLanding = names(f.calls);
      land();
      const r = await h.result();
      await replays(h);
      return { r, beside, beforeLanding, order: await undoOrder(h, slow) };
    });
    expect(
      result.beside.plan?.steps.find((p) => p.id === 'expose/target/create-member-services')?.state,
    ).toBe('running');
    expect(result.beforeLanding.filter((c) => UNDO.test(c))).toEqual([]);
    expect(result.order.firstUndoScheduled).toBeGreaterThan(result.order.slowEnded);
    expect(result.r.outcome).toBe('aborted');
    const undos = names(fake.calls).filter((c) => UNDO.test(c));
    expect(undos).toEqual([
      'deleteMemberServices target etcd-main-0,etcd-main-1,etcd-main-2',
      'deleteMemberServices source etcd-0,etcd-1,etcd-2',
      expect.stringMatching(/^deleteHeadlessService target/),
    ]);
    expect([...fake.world.memberServices.source, ...fake.world.memberServices.target]).toEqual([]);
    expectRolledBack(fake.world);
  });
});

describe('an abort that arrives with an approval', () => {
  it('wins at the switch-clients gate: the run rolls back instead of switching', async () => {
    const taskQueue = `issue16-${randomUUID()}`;
    const fake = createFakeActivities();
    const gates = allGates('auto', { 'switch-clients': 'manual' });
    const first = await createWorker(env(), taskQueue, fake.activities);
    const h = await first.runUntil(async () => {
      const handle = await startMigration(env(), taskQueue, { gates });
      await waitForStatus(handle, 'switch-clients gate', (s) => s.waitingFor?.kind === 'approval');
      return handle;
    });
    // No worker now: both signals wait for the next one, and reach the workflow in one task.
    await h.signal(approveSignal, { gate: 'switch-clients', by: 'alice' });
    await h.signal(abortSignal, { by: 'dave', reason: 'changed my mind' });
    const second = await createWorker(env(), taskQueue, fake.activities);
    const { r, status } = await second.runUntil(async () => ({
      r: await h.result(),
      status: await statusOf(h),
    }));
    // The two signals came in one workflow task: no task started between them.
    const events = (await h.fetchHistory()).events ?? [];
    const signalled = events.flatMap((e, i) => (e.workflowExecutionSignaledEventAttributes ? [i] : []));
    expect(signalled).toHaveLength(2);
    const between = events.slice(signalled[0], signalled[1]);
    expect(between.filter((e) => e.workflowTaskStartedEventAttributes)).toEqual([]);
    await replays(h);
    expect(r.outcome).toBe('aborted');
    expect(r.reason).toContain('dave');
    expect(status.clientsSwitched).toBe(false);
    expect(fake.calls.some((c) => c.name === 'removeMember')).toBe(false);
    expectRolledBack(fake.world);
  });
});

describe("the spec's deadlines", () => {
  it('are the timeouts of the activities: deadlines.step for Kubernetes, membership and observation', async () => {
    const minutes = (n: number) => n * 60_000;
    const deadlines = { step: '7m', catchUp: '13m', loadBalancers: '11m' };
    const { result, fake } = await runWithFakes(env(), { gates: allGates('auto'), deadlines }, {}, (h) =>
      h.result(),
    );
    expect(result.outcome).toBe('completed');
    // Each activity may take its deadline and a minute, so that its own deadline error comes first.
    const stepActivities = [
      'ensureHeadlessService',
      'ensureMemberServices',
      'configureDns',
      'scaleTarget',
      'scaleSource',
      'addLearner',
      'promote',
      'removeMember',
      'observe',
      'verifyConsistency',
    ];
    const expected: Record<string, number> = {
      ...Object.fromEntries(stepActivities.map((n) => [n, minutes(7 + 1)])),
      awaitCatchUp: minutes(13 + 1),
      awaitLoadBalancers: minutes(11 + 1),
    };
    const seen = Object.fromEntries(fake.timeouts.map((t) => [t.name, t.startToCloseTimeoutMs]));
    expect(Object.fromEntries(Object.keys(expected).map((n) => [n, seen[n]]))).toEqual(expected);
    // observe and verifyConsistency heartbeat while they hash: a dead worker shows soon.
    for (const t of fake.timeouts.filter((x) => x.name === 'observe' || x.name === 'verifyConsistency'))
      expect(t.heartbeatTimeoutMs).toBe(20_000);
  });
});

describe('an abort while the target is being started', () => {
  it('deletes the StatefulSet that a cancelled scale-target created', async () => {
    const { result, fake } = await runWithFakes(
      env(),
      { gates: allGates('auto') },
      { scaleTargetWaitsForCancel: 'etcd-main-0' },
      async (h, f) => {
        await waitForStatus(h, 'the first scale-target', () =>
          f.calls.some((c) => c.name === 'scaleTarget' && c.detail === 'etcd-main-0 1'),
        );
        await h.signal(abortSignal, { by: 'dave', reason: 'abort while the pod starts' });
        const r = await h.result();
        await replays(h);
        return r;
      },
    );
    expect(result.outcome).toBe('aborted');
    expect(names(fake.calls)).toContain('shrinkTarget 0 etcd-main-0');
    expectRolledBack(fake.world);
  });
});
