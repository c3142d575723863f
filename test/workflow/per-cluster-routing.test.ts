/**
 * Per-cluster workers: the workflow runs on its own task queue (a worker with no activities),
 * and every activity reaches the worker of the cluster it touches, carrying what that worker
 * cannot read itself. Two fake workers, one per cluster queue, share one model of the clusters.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type {
  MigrationActivities,
  PreflightReport,
  Side,
  SideHashKv,
  SpecInput,
} from '../../core/activity-contract.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import { createFakeActivities, FAKE_MANIFESTS, type FakeOptions } from './fake-activities.js';
import {
  allGates,
  perClusterWorkersSpec,
  runPerCluster,
  runWithFakes,
  statusOf,
  testSpec,
  useTestEnvironment,
  workflowBundle,
} from './harness.js';

const env = useTestEnvironment();

const ETCD_CALLS = new Set<keyof MigrationActivities>([
  'observe',
  'addLearner',
  'removeLearner',
  'promote',
  'moveLeader',
  'verifyConsistency',
  'removeMember',
]);

interface Routed {
  queue: Side;
  name: keyof MigrationActivities;
  input: SpecInput & {
    side?: Side;
    part?: Side;
    members?: string[];
    revision?: number;
    skipHashKv?: boolean;
  };
  /** What the call returned (absent while it runs, or when it failed). */
  result?: unknown;
}

/** The fake activities as the worker of one cluster serves them, logging which queue ran what. */
function servedOn(queue: Side, activities: MigrationActivities, log: Routed[]): MigrationActivities {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (input: Routed['input']) => {
        const call: Routed = { queue, name: name as keyof MigrationActivities, input };
        log.push(call);
        call.result = await (fn as (i: unknown) => Promise<unknown>)(input);
        return call.result;
      },
    ]),
  ) as unknown as MigrationActivities;
}

async function perClusterRun(fakeOptions: FakeOptions = {}) {
  const fake = createFakeActivities(fakeOptions);
  const log: Routed[] = [];
  const { result, status, handle } = await runPerCluster(
    env(),
    (side) => servedOn(side, fake.activities, log),
    async (queues) => {
      const handle = await env().client.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue: queues.workflow,
        workflowId: `per-cluster-${randomUUID()}`,
        args: [{ spec: testSpec({ gates: allGates('auto'), workers: perClusterWorkersSpec(queues) }) }],
      });
      const result = await handle.result().catch((e: unknown) => e);
      return { result, status: await statusOf(handle), handle };
    },
  );
  return { result, status, handle, log, fake };
}

function completed(result: unknown): MigrationResult {
  if (result instanceof Error) throw result;
  return result as MigrationResult;
}

describe('per-cluster workers', () => {
  it('each activity runs on the worker of the cluster it touches, with what crosses as data', async () => {
    const { result, log } = await perClusterRun();
    expect(completed(result).outcome).toBe('completed');

    const preflights = log.filter((c) => c.name === 'preflight');
    expect(preflights.map((c) => [c.queue, c.input.part])).toEqual([
      ['source', 'source'],
      ['target', 'target'],
    ]);

    const on = (name: keyof MigrationActivities) =>
      new Set(log.filter((c) => c.name === name).map((c) => c.queue));
    for (const name of ['scaleTarget', 'awaitCatchUp', 'finalizeTarget', 'issueCertificates'] as const) {
      if (log.some((c) => c.name === name)) expect(on(name), name).toEqual(new Set(['target']));
    }
    for (const name of ['compact', 'rollingDefragment', 'scaleSource'] as const)
      expect(on(name), name).toEqual(new Set(['source']));
    for (const c of log.filter((x) => x.input.side !== undefined))
      expect(c.queue, `${c.name} ${c.input.side}`).toBe(c.input.side);

    // etcd calls go through the source's voters until the clients switch, which follows the move
    // of the leadership to a new member, and through the target's from then on: one change-over.
    const etcd = log.filter((c) => ETCD_CALLS.has(c.name));
    const firstOnTarget = etcd.findIndex((c) => c.queue === 'target');
    expect(firstOnTarget).toBeGreaterThan(0);
    expect(etcd.slice(firstOnTarget).filter((c) => c.queue === 'source')).toEqual([]);
    const moveToTarget = etcd.findIndex(
      (c) => c.name === 'moveLeader' && String((c.input as { to?: string }).to).startsWith('etcd-main-'),
    );
    expect(moveToTarget).toBeGreaterThanOrEqual(0);
    expect(moveToTarget).toBeLessThan(firstOnTarget);
    expect(on('addLearner').has('source')).toBe(true);
    expect(on('removeMember')).toEqual(new Set(['target']));

    // Every etcd call knows the load balancers of both sides once they exist.
    const joins = log.filter((c) => c.name === 'addLearner' || c.name === 'removeMember');
    for (const c of joins) {
      expect(Object.keys(c.input.memberAddresses?.source ?? {}).length, c.name).toBeGreaterThan(0);
      expect(Object.keys(c.input.memberAddresses?.target ?? {}).length, c.name).toBeGreaterThan(0);
    }
    // The target worker renders the target from the source objects preflight read; only the
    // activities that render get them (each is a copy in the history).
    const renders = log.filter(
      (x) => x.name === 'scaleTarget' || (x.name === 'ensureHeadlessService' && x.queue === 'target'),
    );
    expect(renders.length).toBeGreaterThan(0);
    for (const c of renders) expect(c.input.sourceManifests, c.name).toEqual(FAKE_MANIFESTS);
    const others = log.filter((x) => x.queue === 'target' && !renders.includes(x) && x.name !== 'preflight');
    expect(others.filter((c) => c.input.sourceManifests).map((c) => c.name)).toEqual([]);
    // Nothing of the target's objects goes to the source worker.
    expect(log.filter((c) => c.queue === 'source' && c.input.sourceManifests)).toEqual([]);
  });
});

describe('per-cluster workers: the verify-consistency evidence', () => {
  const sideOf = (member: string): Side => (member.startsWith('etcd-main-') ? 'target' : 'source');

  it("is read on each side by that side's worker, the second side at the first's revision", async () => {
    const { result, status, handle, log } = await perClusterRun();
    expect(completed(result).outcome).toBe('completed');
    expect(log.filter((c) => c.name === 'verifyConsistency')).toEqual([]);

    const plan = (log.find((c) => c.name === 'preflight' && c.queue === 'target')?.result as PreflightReport)
      .plan!;
    const steps = plan.steps.filter((s) => s.kind === 'verify-consistency');
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const noteOf = (id: string) => status.plan!.steps.find((s) => s.id === id)?.note;
    const switchAt = plan.steps.findIndex((s) => s.kind === 'gate' && s.gate === 'switch-clients');
    expect(switchAt).toBeGreaterThan(0);
    for (const step of steps) {
      const { members } = step;
      const reads = log.filter((c) => c.name === 'hashKvOnSide' && c.input.stepId === step.id);
      const sides = [...new Set(members.map(sideOf))];
      expect(reads.length, step.id).toBe(sides.length);
      // Each side's worker hashes its own members, and between them they hash every member.
      for (const r of reads) {
        expect(r.queue, step.id).toBe(r.input.side);
        expect(
          r.input.members!.every((m) => sideOf(m) === r.queue),
          step.id,
        ).toBe(true);
      }
      expect(reads.flatMap((r) => r.input.members!).sort()).toEqual([...members].sort());
      // The side etcd calls go through now (observe's) reads first, at its current revision; the
      // other at that one.
      const observe = log.find((c) => c.name === 'observe' && c.input.stepId === step.id);
      expect(observe?.input.skipHashKv, step.id).toBe(true);
      const first = reads[0]!;
      expect(first.queue, step.id).toBe(observe?.queue);
      expect(first.queue, step.id).toBe(plan.steps.indexOf(step) < switchAt ? 'source' : 'target');
      expect(first.input.revision, step.id).toBeUndefined();
      for (const r of reads.slice(1)) expect(r.input.revision).toBe((first.result as SideHashKv).revision);
      expect(noteOf(step.id), step.id).toMatch(/^hashKV agrees at revision \d+ on \d+ members/);
    }
    // The step before the client switch (both sides' members) and after it (the target's first).
    expect(new Set(steps.map((s) => log.find((c) => c.input.stepId === s.id)?.queue))).toEqual(
      new Set(['source', 'target']),
    );

    const history = await handle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
  });

  it('a member whose hash differs from the others fails the step, naming it, and the run rolls back', async () => {
    const { result, status, log } = await perClusterRun({ divergentMember: 'etcd-main-1' });
    expect(result).toBeInstanceOf(WorkflowFailedError);
    expect(status.workflowState).toBe('rolled-back');
    const failed = status.plan!.steps.find((s) => s.state === 'failed');
    expect(failed?.kind).toBe('verify-consistency');
    expect(failed?.note).toMatch(/^hashKV disagrees at revision \d+: MISMATCH on etcd-main-1 \(/);
    // Read again before giving up (a member still catching up agrees on a later reading).
    const reads = log.filter((c) => c.name === 'hashKvOnSide' && c.input.stepId === failed!.id);
    expect(reads.filter((r) => r.queue === 'target').length).toBeGreaterThan(1);
    expect(String((result as WorkflowFailedError).cause?.message)).toContain('MISMATCH on etcd-main-1');
  });

  it('single mode: one worker verifies every member (verifyConsistency), as before', async () => {
    const { result, fake } = await runWithFakes(env(), { gates: allGates('auto') }, {}, (h) => h.result());
    expect(result.outcome).toBe('completed');
    const names = fake.calls.map((c) => c.name);
    expect(names).toContain('verifyConsistency');
    expect(names).not.toContain('hashKvOnSide');
  });
});
