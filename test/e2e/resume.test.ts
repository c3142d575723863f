/**
 * Resume in the test command: a run failed past the client switch by an injected fault is
 * finished by `etcd-stretch start --resume` (a second run of the same spec in resume mode) under
 * the live load client. The same run and the abort case: test/faults/resume-after-switch.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { expectFinishedByResume, resumeAfterFailure } from '../helpers/resume-scenario.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('resume', () => {
  it('a run failed after the client switch is finished by a resumed run', async () => {
    expectFinishedByResume(await resumeAfterFailure(env));
  });
});
