/**
 * Per-cluster workers: the workflow runs on its own task queue (a worker with no activities),
 * and every activity reaches the worker of the cluster it touches, carrying what that worker
 * cannot read itself. Two fake workers, one per cluster queue, share one model of the clusters.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MigrationActivities, Side, SpecInput } from '../../core/activity-contract.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { createFakeActivities, FAKE_MANIFESTS } from './fake-activities.js';
import { allGates, perClusterWorkersSpec, runPerCluster, testSpec, useTestEnvironment } from './harness.js';

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
  input: SpecInput & { side?: Side; part?: Side };
}

/** The fake activities as the worker of one cluster serves them, logging which queue ran what. */
function servedOn(queue: Side, activities: MigrationActivities, log: Routed[]): MigrationActivities {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      (input: Routed['input']) => {
        log.push({ queue, name: name as keyof MigrationActivities, input });
        return (fn as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as MigrationActivities;
}

async function perClusterRun() {
  const fake = createFakeActivities();
  const log: Routed[] = [];
  const result = await runPerCluster(
    env(),
    (side) => servedOn(side, fake.activities, log),
    (queues) =>
      env().client.workflow.execute<typeof etcdMigration>('etcdMigration', {
        taskQueue: queues.workflow,
        workflowId: `per-cluster-${randomUUID()}`,
        args: [{ spec: testSpec({ gates: allGates('auto'), workers: perClusterWorkersSpec(queues) }) }],
      }),
  );
  return { result, log, fake };
}

describe('per-cluster workers', () => {
  it('each activity runs on the worker of the cluster it touches, with what crosses as data', async () => {
    const { result, log } = await perClusterRun();
    expect(result.outcome).toBe('completed');

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
