/**
 * The acceptance scenario as two clouds run it: a worker per cluster, each in a network namespace
 * of its cluster with that cluster's credentials only (the clusters share nothing but the member
 * load balancers), a 20 ms / 100 Mbit/s link between them, Corefile changes that take 30 s to
 * apply, and target load balancers that report hostnames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runAcceptanceScenario, type ScenarioReport } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { startTestEnvironment, workflowBundle } from '../workflow/harness.js';
import { KIND_TOPOLOGY, TWO_CLOUDS_TOPOLOGY, setTopology } from '../../sandbox/topology.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
  setTopology(TWO_CLOUDS_TOPOLOGY);
});
afterAll(async () => {
  setTopology(KIND_TOPOLOGY);
  await env?.teardown();
});

describe('two clouds: a worker per cluster, a WAN link, slow DNS, hostname load balancers', () => {
  let report: ScenarioReport;

  it('completes under live load with no failed operation and no lost write', async () => {
    report = await runAcceptanceScenario({ client: env.client, perCluster: { address: env.address } });
    expectCompletedSafely(report);
    // The topology was in effect: hostname load balancers, DNS confirmed in the cluster that needs it.
    const note = (id: string) => report.status.plan?.steps.find((s) => s.id === id)?.note ?? '';
    expect(note('expose/target/await-load-balancers')).toMatch(
      /^etcd-main-0=[0-9a-f]+-etcd-main-0-lb-.*\.elb\.target\.sandbox\.test/,
    );
    expect(note('dns/source/configure-dns')).toMatch(/source DNS answers them/);
    expect(
      report.topology.workers.map((w) => [w.cluster, w.activityTaskQueue.endsWith(`-${w.cluster}`)]),
    ).toEqual([
      ['source', true],
      ['target', true],
    ]);
    expect(report.topology).toMatchObject({ rttMs: 20, bandwidthMbit: 100, dnsDelayS: 30 });
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
