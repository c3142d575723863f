/**
 * Fault runs 4 and 6: the joining member fails (its pod crash-loops; its load balancer drops
 * every packet). The join is undone on its own (learner removed, pod stopped, PVC wiped), the
 * run pauses with the reason, and after the cause is fixed a resume retries the join and the
 * migration completes. The live load client runs through all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { runAcceptanceScenario, type ScenarioContext } from '../../helpers/acceptance.js';
import { recordFaultRun } from '../../helpers/fault-report.js';
import { CrashLoop } from '../../helpers/pod-faults.js';
import { clusterClient } from '../../helpers/kube.js';
import { startTestEnvironment } from '../../workflow/harness.js';
import { resumeSignal } from '../../../workflows/messages.js';
import { LB_FAULT_ANNOTATION } from '../../../sandbox/node-agent/load-balancer.js';
import { memberServiceName } from '../../../activities/kubernetes/labels.js';
import type { MigrationStatus } from '../../../workflows/status.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const FAULTY = 'etcd-main-1';

function currentStep(s: MigrationStatus) {
  return s.step ? s.plan?.steps[s.step.index] : undefined;
}

/**
 * Injects a fault when the join of FAULTY reaches `at`, and when the workflow pauses after
 * undoing that join, heals it and resumes. Returns the hook and what it saw.
 */
function joinFault(
  at: 'add-learner',
  inject: (ctx: ScenarioContext) => Promise<unknown>,
  heal: (ctx: ScenarioContext) => Promise<void>,
) {
  const seen = {
    injectedAt: 0,
    pausedAt: 0,
    recoveredAt: 0,
    pauseReason: '',
    stepIndex: -1,
  };
  const onStatus = async (ctx: ScenarioContext) => {
    const s = ctx.status;
    const step = currentStep(s);
    if (!seen.injectedAt && step?.kind === at && step.title.includes(FAULTY) && step.state === 'running') {
      seen.injectedAt = Date.now();
      seen.stepIndex = s.step!.index;
      await inject(ctx);
      ctx.say(`fault injected at ${step.id}`);
    }
    if (seen.injectedAt && !seen.pausedAt && s.paused?.by === 'etcd-stretch') {
      seen.pausedAt = Date.now();
      seen.pauseReason = s.paused.reason ?? '';
      ctx.say(`paused by the workflow: ${seen.pauseReason}`);
      await heal(ctx);
      await ctx.handle.signal(resumeSignal, { by: 'fault-test' });
    }
    // Recovered: the retried join got past the step the fault hit.
    if (seen.pausedAt && !seen.recoveredAt && s.plan?.steps[seen.stepIndex]?.state === 'done')
      seen.recoveredAt = Date.now();
  };
  return { seen, onStatus };
}

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
      connection: env.nativeConnection,
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
    expect(r.failure).toBeUndefined();
    expect(r.outcome).toBe('completed');
    expect(r.status.notices.some((n) => /undone \(member removed, pod stopped\)/.test(n))).toBe(true);
    expect(r.finalMembers.map((m) => m.name).sort()).toEqual(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    // The undo removed the learner: it was added twice (two IDs), removed once, promoted once.
    const events = r.quorum.events.filter((e) => e.name === FAULTY);
    expect(events.filter((e) => e.kind === 'added')).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'removed')).toHaveLength(1);
    expect(r.quorum.duplicateChanges).toEqual([]);
    expect(r.quorum.quorumLost).toBe(false);
    expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
    expect(r.lostWrites).toBe(0);
    expect(r.check.violations).toEqual([]);
    expect(r.hashKvConsistent).toBe(true);
  });

  it('is behind a broken load balancer: the join fails at the catch-up deadline, is undone, and completes after the LB is fixed', async () => {
    const target = clusterClient('target');
    const annotate = (ns: string, value: string | null) =>
      target.core.patchNamespacedService(
        {
          name: memberServiceName(FAULTY),
          namespace: ns,
          body: { metadata: { annotations: { [LB_FAULT_ANNOTATION]: value } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const fault = joinFault(
      'add-learner',
      async (ctx) => {
        await annotate(ctx.namespace, 'drop');
      },
      async (ctx) => {
        await annotate(ctx.namespace, null);
      },
    );
    const r = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      onStatus: fault.onStatus,
      expectedAdds: (m) => (m === 'etcd-main-1' || m === 'etcd-main-2' ? 2 : 1),
      specOverrides: { deadlines: { catchUp: '40s', loadBalancers: '2m', step: '3m' } },
    });
    recordFaultRun('broken-load-balancer', '6. new member load balancer drops packets during its join', r, {
      recoveryMs: fault.seen.recoveredAt ? fault.seen.recoveredAt - fault.seen.injectedAt : null,
      notes: [fault.seen.pauseReason],
    });
    // etcd's raft stream to a learner is dialled by the learner, so a learner whose inbound
    // path is broken can still catch up; the leader then counts it as not connected, and etcd
    // refuses the next membership change ("unhealthy cluster"). Either way the failing join is
    // undone and the run waits for the operator.
    expect(fault.seen.pauseReason).toMatch(/join of etcd-main-[12] failed at /);
    expect(r.failure).toBeUndefined();
    expect(r.outcome).toBe('completed');
    expect(r.finalMembers.map((m) => m.name).sort()).toEqual(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    expect(r.quorum.duplicateChanges).toEqual([]);
    expect(r.quorum.quorumLost).toBe(false);
    expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
    expect(r.lostWrites).toBe(0);
    expect(r.check.violations).toEqual([]);
    expect(r.hashKvConsistent).toBe(true);
  });
});
