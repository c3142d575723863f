/**
 * Resume: a run that failed after the client switch, or was stopped by an abort past it, is
 * finished by a second run of the same spec with `resume: true`, which adopts what the first
 * run did and runs only the rest (core/planner/resume.ts, workflows/adopted-steps.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { abortSignal } from '../../workflows/messages.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities, nonRetryable, type FakeOptions } from './fake-activities.js';
import {
  allGates,
  createWorker,
  startTestEnvironment,
  statusOf,
  testSpec,
  waitForStatus,
} from './harness.js';
import { waitFor } from '../../sandbox/processes.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

/** Runs the spec once as told, then a second time with `resume: true`, on the same model. */
async function failThenResume(fakeOptions: FakeOptions, spec = autoSpec(), abortOn?: string) {
  const fake = createFakeActivities(fakeOptions);
  const taskQueue = `resume-${randomUUID()}`;
  const worker = await createWorker(env, taskQueue, fake.activities);
  return worker.runUntil(async () => {
    const start = (resume: boolean) =>
      env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue,
        workflowId: `resume-${randomUUID()}`,
        args: [{ spec, ...(resume ? { resume } : {}) }],
      });
    const first = await start(false);
    if (abortOn) {
      const sent = { done: false };
      const poll = async (): Promise<void> => {
        while (!sent.done) {
          if (fake.calls.some((c) => `${c.name} ${c.detail}` === abortOn)) {
            sent.done = true;
            await first.signal(abortSignal, { by: 'erin', reason: 'stop after the switch' });
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      void poll();
    }
    const firstOutcome = await first.result().then(
      (r) => ({ outcome: r.outcome, message: r.reason ?? '' }),
      (err: unknown) => ({ outcome: 'failed', message: failureText(err) }),
    );
    const firstCalls = fake.calls.length;
    const second = await start(true);
    const result = await second.result();
    const status = await statusOf(second);
    return { fake, firstOutcome, result, status, resumedCalls: fake.calls.slice(firstCalls) };
  });
}

/** The example spec with every gate automatic. */
function autoSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return testSpec({ gates: allGates('auto'), ...overrides });
}

function failureText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join(': ');
}

describe('resume after the client switch', () => {
  it('a run that failed at a scale-down after the switch is finished by a resumed run', async () => {
    let injected = false;
    const { fake, firstOutcome, result, status, resumedCalls } = await failThenResume({
      failWhen: (call) => {
        if (call.name !== 'scaleSource' || injected) return undefined;
        injected = true;
        return nonRetryable('injected: the source API server refused the scale', 'PreconditionFailed');
      },
    });
    expect(firstOutcome.outcome).toBe('failed');
    expect(firstOutcome.message).toContain('etcd-stretch start --resume <spec>');
    // The first run removed etcd-2 and stopped before its pod: a removed member still running.
    expect(result.outcome).toBe('completed');
    expect(fake.world.members.map((m) => `${m.name}${m.isLearner ? '*' : ''}`).sort()).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
    expect(fake.world.sourceReplicas).toBe(0);
    const names = resumedCalls.map((c) => `${c.name} ${c.detail}`);
    // Nothing the first run did is done again; the scale-down it failed at comes first.
    expect(
      names.filter((n) => /^(addLearner|promote|removeMember etcd-2|scaleTarget|ensure)/.test(n)),
    ).toEqual([]);
    expect(names.find((n) => /^(scaleSource|removeMember)/.test(n))).toBe('scaleSource 2');
    expect(names).toContain('removeMember etcd-1');
    expect(names).toContain('cleanupSourceStatefulSet ');
    const adopted = status.plan!.steps.filter((s) => s.note?.includes('adopted')).map((s) => s.id);
    expect(adopted).toContain('gate/switch-clients');
    expect(adopted).toContain('retire/etcd-2/remove-member');
    expect(status.plan!.steps.every((s) => s.state === 'done')).toBe(true);
  });

  it('a run stopped by an abort past the switch is finished by a resumed run', async () => {
    const { fake, firstOutcome, result, resumedCalls } = await failThenResume(
      {},
      autoSpec(),
      'removeMember etcd-2',
    );
    expect(firstOutcome.outcome).toBe('stopped');
    expect(firstOutcome.message).toContain('etcd-stretch start --resume <spec>');
    expect(result.outcome).toBe('completed');
    expect(fake.world.members.map((m) => m.name).sort()).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
    const names = resumedCalls.map((c) => `${c.name} ${c.detail}`);
    expect(names.filter((n) => /^(addLearner|promote|removeMember etcd-2)/.test(n))).toEqual([]);
    expect(names).toContain('removeMember etcd-0');
  });

  it('3 -> 5 failed in the middle of the retire joins the rest and finishes', async () => {
    let injected = false;
    const spec = autoSpec({ target: { ...(testSpec().target as object), replicas: 5 } });
    const { fake, firstOutcome, result, resumedCalls } = await failThenResume(
      {
        failWhen: (call) => {
          if (call.name !== 'awaitCatchUp' || call.detail !== 'etcd-main-3' || injected) return undefined;
          injected = true;
          return nonRetryable('injected: etcd-main-3 did not catch up', 'LearnerNotCaughtUp');
        },
      },
      spec,
    );
    expect(firstOutcome.outcome).toBe('failed');
    expect(result.outcome).toBe('completed');
    expect(fake.world.members.map((m) => m.name).sort()).toEqual(
      Array.from({ length: 5 }, (_, i) => `etcd-main-${i}`),
    );
    const names = resumedCalls.map((c) => `${c.name} ${c.detail}`);
    // The learner etcd-main-3 was started by the first run: it is caught up and promoted, not added again.
    expect(names.filter((n) => /^addLearner/.test(n))).toEqual(['addLearner etcd-main-4']);
    expect(names).toContain('awaitCatchUp etcd-main-3');
    expect(names).toContain('promote etcd-main-3');
  });
});

describe('resume before the client switch', () => {
  it('a resumed run aborted before the switch rolls back what the earlier run did too', async () => {
    const fake = createFakeActivities({});
    const taskQueue = `resume-${randomUUID()}`;
    const worker = await createWorker(env, taskQueue, fake.activities);
    const { result, status, resumedCalls } = await worker.runUntil(async () => {
      // The first run is killed in the middle of the join: etcd-main-0 and etcd-main-1 vote.
      const first = await env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue,
        workflowId: `resume-${randomUUID()}`,
        args: [{ spec: autoSpec() }],
      });
      await waitFor(
        'etcd-main-1 promoted',
        () =>
          Promise.resolve(
            fake.calls.some((c) => `${c.name} ${c.detail}` === 'promote etcd-main-1') || undefined,
          ),
        { timeoutMs: 30_000, intervalMs: 20 },
      );
      await first.terminate('the worker fleet was lost');
      const firstCalls = fake.calls.length;
      const second = await env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue,
        workflowId: `resume-${randomUUID()}`,
        args: [{ spec: autoSpec({ gates: allGates('auto', { leader: 'manual' }) }), resume: true }],
      });
      await waitForStatus(
        second,
        'the leader gate',
        (s) => s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'leader',
      );
      await second.signal(abortSignal, { by: 'erin', reason: 'go back before the switch' });
      return {
        result: await second.result(),
        status: await statusOf(second),
        resumedCalls: fake.calls.slice(firstCalls),
      };
    });
    expect(result.outcome).toBe('aborted');
    const adopted = status.plan!.steps.filter((s) => s.note?.includes('adopted')).map((s) => s.id);
    expect(adopted).toContain('join/etcd-main-1/promote');
    // Everything the migration made is gone, the earlier run's work included.
    expect(fake.world.members.map((m) => `${m.name}${m.isLearner ? '*' : ''}`).sort()).toEqual([
      'etcd-0',
      'etcd-1',
      'etcd-2',
    ]);
    expect(fake.world.targetExists).toBe(false);
    expect([...fake.world.memberServices.source, ...fake.world.memberServices.target]).toEqual([]);
    expect([...fake.world.dns.source, ...fake.world.dns.target]).toEqual([]);
    const names = resumedCalls.map((c) => `${c.name} ${c.detail}`);
    expect(names.filter((n) => n.startsWith('removeLearner'))).toEqual(
      expect.arrayContaining([
        'removeLearner etcd-main-0',
        'removeLearner etcd-main-1',
        'removeLearner etcd-main-2',
      ]),
    );
  });
});
