import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runAcceptanceScenario, type ScenarioReport } from '../helpers/acceptance.js';
import { startTestEnvironment, workflowBundle } from '../workflow/harness.js';
import { clusterClient } from '../helpers/kube.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('acceptance: migrate the article etcd from source to target under live load', () => {
  let report: ScenarioReport;

  it('completes with 3 new members, no failed client operation and no lost write', async () => {
    report = await runAcceptanceScenario({ client: env.client, connection: env.nativeConnection });
    expect(report.outcome).toBe('completed');
    expect(report.finalMembers).toHaveLength(3);
    expect(report.finalMembers.every((m) => m.cluster === 'target' && !m.learner)).toBe(true);
    expect(report.opsTotal).toBeGreaterThan(1000);
    expect(report.failedOps, report.firstFailures.join('\n')).toBe(0);
    expect(report.lostWrites).toBe(0);
    expect(report.check.violations).toEqual([]);
    expect(report.hashKvConsistent).toBe(true);
    expect(report.sourcePvcsRetained).toBe(true);
  });

  it("replays the run's history", async () => {
    const history = await env.client.workflow.getHandle(report.temporalWorkflowId).fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      history,
      report.temporalWorkflowId,
    );
  });
});

describe('acceptance: abort at the client switch', () => {
  it('leaves the source exactly as it was, with no failed client operation', async () => {
    const r = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
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
