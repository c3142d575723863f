/**
 * Fault run 4: the joining learner's pod crash-loops. The catch-up wait sees the restarts and
 * fails before its deadline; the join is undone on its own (learner removed, pod stopped, PVC
 * wiped), the run pauses with the reason, and after the cause is gone a resume retries the join
 * and the migration completes. The live load client runs through all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { FAULTY, joinFault } from '../helpers/join-fault.js';
import { CrashLoop } from '../helpers/pod-faults.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('fault: the joining learner', () => {
  it('crash-loops: the join is undone before its deadline, retried after a resume, and the run completes', async () => {
    let loop: CrashLoop | undefined;
    // From the moment it is added: the pod is killed as soon as its etcd runs.
    const fault = joinFault(
      'add-learner',
      (ctx) => {
        loop = new CrashLoop('target', ctx.namespace, FAULTY);
        return Promise.resolve();
      },
      async () => {
        await loop!.stop();
      },
    );
    const r = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      onStatus: fault.onStatus,
      expectedAdds: (m) => (m === FAULTY ? 2 : 1),
    });
    recordFaultRun('learner-crash-loop', '4. joining learner crash-loops', r, {
      recoveryMs: fault.seen.recoveredAt ? fault.seen.recoveredAt - fault.seen.injectedAt : null,
      notes: [fault.seen.pauseReason],
    });
    expect(loop?.kills.length ?? 0, 'the learner was killed').toBeGreaterThanOrEqual(3);
    // Found by the pod watch (restarts) or by the guard before promoting, not by the 3-minute
    // catch-up deadline.
    expect(fault.seen.pauseReason).toMatch(
      /join of etcd-main-1 failed at .*(pod etcd-main-1 is not running: .*restarted|learner etcd-main-1 .* is unreachable)/,
    );
    expect(fault.seen.pausedAt - fault.seen.injectedAt).toBeLessThan(3 * 60_000);
    expectCompletedSafely(r);
    expect(r.status.notices.some((n) => /undone \(member removed, pod stopped\)/.test(n))).toBe(true);
    // The undo removed the learner: it was added twice (two IDs), removed once, promoted once.
    const events = r.quorum.events.filter((e) => e.name === FAULTY);
    expect(events.filter((e) => e.kind === 'added')).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'removed')).toHaveLength(1);
  });
});
