/**
 * Resume (docs/resume.md): a run that ended past the client switch without finishing is finished
 * by a second run of the same spec in resume mode (`etcd-stretch start --resume`), under the live
 * load client. (a) The first run fails at the scale-down after the first removal (an injected
 * refusal of scaleSource): etcd-2 was removed and its pod still runs. (b) The first run is
 * aborted once etcd-2 was removed and stops at a safe point. Either way the resumed run adopts
 * what was done, runs only the rest, and completes with the source cleaned up. (a) also runs in
 * the test command (test/e2e/resume.test.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ScenarioReport } from '../helpers/acceptance.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { expectFinishedByResume, resumeAfterAbort, resumeAfterFailure } from '../helpers/resume-scenario.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

function record(id: string, scenario: string, r: ScenarioReport): void {
  const adopted = r.status.plan?.steps.filter((s) => s.note?.includes('adopted')).length ?? 0;
  recordFaultRun(id, scenario, r, {
    outcome: `${r.firstRun?.outcome ?? '?'}, then resumed: ${r.outcome}`,
    notes: [
      `first run: ${r.firstRun?.outcome}: ${r.firstRun?.reason.slice(0, 300)}`,
      `resumed by ${r.firstRun?.resumedBy}: ${adopted} of ${r.status.plan?.steps.length} steps adopted`,
    ],
  });
}

describe('resume: a run that ended past the client switch is finished by a second run', () => {
  it('(a) failed at a scale-down after the switch (injected fault): resume finishes it', async () => {
    const r = await resumeAfterFailure(env);
    record('resume-after-failure', 'resume after a failure past the switch (one worker)', r);
    expectFinishedByResume(r);
  });

  it('(b) stopped by an abort past the switch: resume finishes it', async () => {
    const r = await resumeAfterAbort(env);
    record('resume-after-abort', 'resume after an abort past the switch (one worker)', r);
    expectFinishedByResume(r);
  });
});
