/**
 * The acceptance scenario: the article's etcd moves from source to target under the live load
 * client. By default as two clouds run it: a worker per cluster, each in a network namespace of
 * its cluster with that cluster's credentials only (the clusters share nothing but the member
 * load balancers), a 20 ms / 100 Mbit/s link between them, Corefile changes that take 30 s to
 * apply, and target load balancers that report hostnames. The single-worker mode (a jump host
 * that reaches both clusters) completes in test/e2e/reverse-migration.test.ts, and runs this
 * scenario in npm run faults (test/faults/acceptance-one-worker.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runAcceptanceScenario, type ScenarioReport } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { startTestEnvironment, workflowBundle } from '../workflow/harness.js';
import { clusterClient } from '../helpers/kube.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

async function expectReplays(report: ScenarioReport): Promise<void> {
  const history = await env.client.workflow.getHandle(report.temporalWorkflowId).fetchHistory();
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle() },
    history,
    report.temporalWorkflowId,
  );
}

describe('acceptance, two clouds: a worker per cluster, a WAN link, slow DNS, hostname load balancers', () => {
  let report: ScenarioReport;

  it('completes with 3 new members, no failed client operation and no lost write', async () => {
    report = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      // Defragment every member, however little is free: the leader's move runs here end to end.
      specOverrides: { shrink: { minReclaimableBytes: 0 } },
    });
    expectCompletedSafely(report);
    expect(report.opsTotal).toBeGreaterThan(1000);
    expect(report.sourcePvcsRetained).toBe(true);
    // By default the cleanup keeps the source cluster's names for the new members, and their load
    // balancers; the target cluster's names for the old ones and their load balancers go.
    const left = report.betweenClustersAfter!;
    expect(new Set(left.dnsNames.source.map((n) => n.split('.')[0]))).toEqual(
      new Set(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']),
    );
    expect(left.dnsNames.target).toEqual([]);
    expect(left.memberServices).toEqual({
      source: [],
      target: ['etcd-main-0-lb', 'etcd-main-1-lb', 'etcd-main-2-lb'],
    });
    // The topology was in effect: hostname load balancers, DNS confirmed in the cluster that needs it.
    const note = (id: string) => report.status.plan?.steps.find((s) => s.id === id)?.note ?? '';
    expect(note('expose/target/await-load-balancers')).toMatch(
      /^etcd-main-0=[0-9a-f]+-etcd-main-0-lb-.*\.elb\.target\.sandbox\.test/,
    );
    expect(note('dns/source/configure-dns')).toMatch(/source DNS answers them/);
    expect(note('shrink/rolling-defragment')).toMatch(
      /^defragmented defragment etcd-\d -> defragment etcd-\d -> move-leader etcd-\d->etcd-\d -> defragment etcd-\d;/,
    );
    expect(
      report.topology.workers.map((w) => [w.cluster, w.activityTaskQueue.endsWith(`-${w.cluster}`)]),
    ).toEqual([
      ['source', true],
      ['target', true],
    ]);
    expect(report.topology).toMatchObject({ rttMs: 20, bandwidthMbit: 100, dnsDelayS: 30 });
  });

  it("replays the run's history", async () => {
    await expectReplays(report);
  });
});

describe('acceptance: abort at the client switch', () => {
  it('leaves the source exactly as it was, with no failed client operation', async () => {
    const r = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      abortAtSwitch: true,
    });
    expect(r.outcome).toBe('aborted');
    expect(r.sourceMemberIdsAfter).toEqual(r.sourceMemberIdsBefore);
    expect(r.hashKvConsistent).toBe(true);
    expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
    expect(r.lostWrites).toBe(0);
    expect(r.check.violations).toEqual([]);
    expect(r.status.compensations.length).toBeGreaterThan(0);
    expect(r.status.compensations.every((c) => c.state === 'done')).toBe(true);
    // Nothing of the migration is left in either cluster.
    const source = clusterClient('source');
    const target = clusterClient('target');
    expect((await target.apps.listNamespacedStatefulSet({ namespace: r.namespace })).items).toEqual([]);
    expect((await target.core.listNamespacedService({ namespace: r.namespace })).items).toEqual([]);
    expect((await target.core.listNamespacedPersistentVolumeClaim({ namespace: r.namespace })).items).toEqual(
      [],
    );
    const sourceServices = (await source.core.listNamespacedService({ namespace: r.namespace })).items.map(
      (s) => s.metadata!.name,
    );
    expect(sourceServices).toEqual(['etcd']);
    const corefile = (
      await source.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })
    ).data!.Corefile!;
    expect(corefile).not.toContain('etcd-main-0');
    const sts = await source.apps.readNamespacedStatefulSet({ name: 'etcd', namespace: r.namespace });
    expect(sts.spec?.replicas).toBe(3);
  });
});
