/**
 * The acceptance scenario with one worker that reaches both clusters (a jump host with peered
 * networks, the kind topology). The test command runs it as two clouds (test/e2e/acceptance.test.ts);
 * one-worker runs that complete stay there too (test/e2e/reverse-migration.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runAcceptanceScenario, type ScenarioReport } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { startTestEnvironment, workflowBundle } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('acceptance, one worker that reaches both clusters (jump host, peered networks)', () => {
  let report: ScenarioReport;

  it('completes with 3 new members, no failed client operation and no lost write', async () => {
    report = await runAcceptanceScenario({ client: env.client, connection: env.nativeConnection });
    expectCompletedSafely(report);
    expect(report.opsTotal).toBeGreaterThan(1000);
    expect(report.sourcePvcsRetained).toBe(true);
    expect(report.topology.workers.map((w) => w.cluster)).toEqual(['source and target']);
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
