/**
 * Fault run 7: the target cluster's API server answers 409 conflicts and 5xx errors, some after
 * it applied the request (the answer is lost). The activities retry and find their work done;
 * the run completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { FaultyApiServer } from '../helpers/faulty-apiserver.js';
import { inProcessWorkers } from '../helpers/worker-hosts.js';
import { startTestEnvironment } from '../workflow/harness.js';
import type { WorkerHost } from '../helpers/worker-hosts.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('fault: the target API server answers with conflicts and server errors', () => {
  it('every call is retried until it is done, and the migration completes', async () => {
    let proxy: FaultyApiServer | undefined;
    // The worker's kubeconfig is only known once the scenario has picked its namespace.
    const workers: WorkerHost = {
      async run(taskQueue, workflowId, fn) {
        const ns = workflowId.replace(/^etcd-migration-/, '');
        proxy = await FaultyApiServer.start('target', ns);
        try {
          return await inProcessWorkers(env.nativeConnection, proxy.kubeconfig).run(
            taskQueue,
            workflowId,
            fn,
          );
        } finally {
          await proxy.stop();
        }
      },
    };
    const r = await runAcceptanceScenario({ client: env.client, workers });
    const injected = proxy?.injected ?? [];
    const count = (answer: number, applied: boolean) =>
      injected.filter((f) => f.answer === answer && f.applied === applied).length;
    recordFaultRun(
      'api-server-errors',
      '7. target API server: 409 and 5xx answers (some after applying)',
      r,
      {
        notes: [
          `injected: ${count(409, false)} x 409, ${count(503, false)} x 503 before applying, ${count(504, true)} x 504 after applying`,
        ],
      },
    );
    expect(count(409, false), 'update conflicts injected').toBeGreaterThan(0);
    expect(count(503, false), 'server errors injected').toBeGreaterThan(0);
    expect(count(504, true), 'lost answers injected').toBeGreaterThan(0);
    expectCompletedSafely(r);
  });
});
