/**
 * The way back started before the migration that made its source finished
 * (workflows/finish-forward.ts): that migration is finished first, as a child run under its own
 * workflow ID that resumes it. When it cannot be (its run is still open, or finishing it fails),
 * the way back ends refused before any change of its own. The path where it finishes runs end to
 * end in test/e2e/reverse-migration.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { UnfinishedForward } from '../../core/activity-contract.js';
import { SOURCE_PODS_NOT_READY } from '../../core/failure-types.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities, nonRetryable, type FakeOptions } from './fake-activities.js';
import { allGates, createWorker, testSpec, useTestEnvironment } from './harness.js';

const env = useTestEnvironment();

function unfinishedForward(): UnfinishedForward {
  const parsed = parseMigrationSpec(testSpec({ gates: allGates('auto') }));
  if (!parsed.ok) throw new Error('the example spec does not parse');
  return { spec: parsed.spec, workflowId: `forward-${randomUUID()}`, members: ['etcd-0', 'etcd-1'] };
}

/** Runs a way back whose first preflight reports `forward`; resolves with its failure. */
async function wayBack(
  forward: UnfinishedForward,
  fakeOptions: FakeOptions = {},
  beforeStart?: () => Promise<void>,
) {
  const fake = createFakeActivities({ ...fakeOptions, unfinishedForward: forward });
  const taskQueue = `finish-forward-${randomUUID()}`;
  const worker = await createWorker(env(), taskQueue, fake.activities);
  return worker.runUntil(async () => {
    await beforeStart?.();
    const handle = await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
      taskQueue,
      workflowId: `way-back-${randomUUID()}`,
      args: [{ spec: testSpec({ gates: allGates('auto') }) }],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { fake, err };
  });
}

function causeOf(err: unknown): { message: string; type?: string | null } {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as { message: string; type?: string | null };
  return cause;
}

describe('a way back that must finish the migration before it first', () => {
  it('is refused, with nothing changed, while a run of that migration is still open', async () => {
    const forward = unfinishedForward();
    const { fake, err } = await wayBack(forward, {}, async () => {
      // The forward migration's own run, open (on a queue no worker polls: it never moves).
      await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue: `nobody-${randomUUID()}`,
        workflowId: forward.workflowId,
        args: [{ spec: testSpec({ gates: allGates('manual') }) }],
      });
    });
    const cause = causeOf(err);
    expect(cause.type).toBe('PreflightRefused');
    expect(cause.message).toContain(`its run ${forward.workflowId} is still open`);
    expect(cause.message).toContain('etcd-0, etcd-1 still vote');
    expect(fake.calls.map((c) => c.name)).toEqual(['preflight']);
    await env().client.workflow.getHandle(forward.workflowId).terminate('test over');
  });

  it('is refused, with nothing changed, when finishing that migration fails', async () => {
    const forward = unfinishedForward();
    let preflights = 0;
    const { fake, err } = await wayBack(forward, {
      failWhen: (call) =>
        call.name === 'preflight' && ++preflights === 2
          ? nonRetryable('injected: the resumed run cannot read its target', 'PreconditionFailed')
          : undefined,
    });
    const cause = causeOf(err);
    expect(cause.type).toBe('PreflightRefused');
    expect(cause.message).toContain(`finishing it (run ${forward.workflowId}) failed`);
    expect(fake.calls.map((c) => c.name)).toEqual(['preflight']);
    // The child ran under the forward migration's ID, as a resumed run.
    const child = await env().client.workflow.getHandle(forward.workflowId).describe();
    expect(child.status.name).toBe('FAILED');
  });

  it('asks its preflight again while the only refusal is a source pod not Ready yet', async () => {
    const forward = unfinishedForward();
    const notReady = `${SOURCE_PODS_NOT_READY}: etcd-main-2 is not Ready (StatefulSet default/etcd-main, replicas 3)`;
    const { fake, err } = await wayBack(forward, {
      // The way back's own preflights: 1 finds the forward unfinished, 2 a pod not Ready yet, 3 none.
      preflightRefusals: (n) => (n === 2 ? [notReady] : undefined),
    });
    // Preflights: the way back's first, the child's (resumed), then the way back's two more.
    expect(fake.calls.filter((c) => c.name === 'preflight')).toHaveLength(4);
    // It went on past the readiness refusal (here to the plan, which the fake's world after the
    // child's run does not allow: that ends it).
    const cause = causeOf(err);
    expect(cause.type).not.toBe('PreflightRefused');
    expect(cause.message).not.toContain(SOURCE_PODS_NOT_READY);
  });

  it('asks its first preflight again while the member the forward promoted last is not Ready yet', async () => {
    const forward = unfinishedForward();
    const notReady = `${SOURCE_PODS_NOT_READY}: etcd-main-2 is not Ready (StatefulSet default/etcd-main, replicas 3)`;
    const { fake, err } = await wayBack(forward, {
      // The way back's own preflights: 1 finds the forward unfinished and a pod not Ready yet.
      preflightRefusals: (n) => (n === 1 ? [notReady] : undefined),
    });
    // Preflights: the way back's first two (both find the forward unfinished), the child's, then one more.
    expect(fake.calls.filter((c) => c.name === 'preflight')).toHaveLength(4);
    const child = await env().client.workflow.getHandle(forward.workflowId).describe();
    expect(child.status.name).not.toBe('RUNNING');
    const cause = causeOf(err);
    expect(cause.type).not.toBe('PreflightRefused');
    expect(cause.message).not.toContain(SOURCE_PODS_NOT_READY);
  });
});
