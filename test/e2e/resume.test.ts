/**
 * Resume in the test command, as an operator on two clouds meets it: a worker per cluster, the
 * WAN link, slow DNS, hostname load balancers. The first run is aborted past the client switch
 * and stops; `etcd-stretch start --resume <spec> --watch` (the CLI, spawned) finishes it under
 * the live load client. The one-worker runs, after an injected failure and after an abort:
 * test/faults/resume-after-switch.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { expectFinishedByResume, resumeAfterAbort } from '../helpers/resume-scenario.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('resume', () => {
  it('a run stopped past the client switch is finished by etcd-stretch start --resume, a worker per cluster', async () => {
    expectFinishedByResume(await resumeAfterAbort(env, { asOperator: true }));
  });
});
