/**
 * Fault run 6: a new member's load balancer drops every packet from its add-learner step on.
 * The learner still catches up (it dials the leader), but the check of its link refuses it (a
 * voter cannot reach it); the join is undone on its own, the run pauses with the reason, and
 * after the load balancer is fixed a resume retries the join and the migration completes.
 * Two learners, two places of that check: etcd-main-1 is promoted in its join, so the promote
 * refuses; etcd-main-2's promote waits for `retire` (after the client switch), so its link is
 * proven in the join's await-catch-up, and that step refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { joinFault } from '../helpers/join-fault.js';
import { clusterClient } from '../helpers/kube.js';
import { startTestEnvironment } from '../workflow/harness.js';
import { LB_FAULT_ANNOTATION } from '../../sandbox/node-agent/load-balancer.js';
import { memberServiceName } from '../../activities/kubernetes/labels.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

function breakLoadBalancer(member: string) {
  const target = clusterClient('target');
  const annotate = (ns: string, value: string | null) =>
    target.core.patchNamespacedService(
      {
        name: memberServiceName(member),
        namespace: ns,
        body: { metadata: { annotations: { [LB_FAULT_ANNOTATION]: value } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  return joinFault(
    'add-learner',
    async (ctx) => {
      await annotate(ctx.namespace, 'drop');
    },
    async (ctx) => {
      await annotate(ctx.namespace, null);
    },
    member,
  );
}

async function runWithBrokenLoadBalancer(member: string, row: string) {
  const fault = breakLoadBalancer(member);
  const r = await runAcceptanceScenario({
    client: env.client,
    perCluster: { address: env.address },
    onStatus: fault.onStatus,
    expectedAdds: (m) => (m === member ? 2 : 1),
    specOverrides: { deadlines: { catchUp: '40s' } },
  });
  recordFaultRun(row, `6. new member load balancer drops packets during its join (${member})`, r, {
    recoveryMs: fault.seen.recoveredAt ? fault.seen.recoveredAt - fault.seen.injectedAt : null,
    notes: [fault.seen.pauseReason],
  });
  return { r, seen: fault.seen };
}

// etcd's raft stream to a learner is dialled by the learner, so the learner catches up; the
// voters' dials to it fail, and the link check sees that. The source's worker reaches a target
// member through the same load balancer (per cluster), so its own status call to the learner
// may fail first there.
const refusedAt = (member: string, step: string) =>
  new RegExp(
    `join of ${member} failed at join/${member}/${step}: .*(cannot reach learner ${member}|learner ${member} \\(\\d+\\) is unreachable)`,
  );

describe('fault: the joining learner is behind a broken load balancer', () => {
  it('promoted in its join: the promote refuses it, its join is undone, and the run completes after the LB is fixed', async () => {
    const { r, seen } = await runWithBrokenLoadBalancer('etcd-main-1', 'broken-load-balancer');
    expect(seen.pauseReason).toMatch(refusedAt('etcd-main-1', 'promote'));
    expectCompletedSafely(r);
  });

  it('promoted after the switch: its catch-up refuses the link before the leader moves, the join is undone, and the run completes', async () => {
    const { r, seen } = await runWithBrokenLoadBalancer('etcd-main-2', 'broken-load-balancer-deferred');
    expect(seen.pauseReason).toMatch(refusedAt('etcd-main-2', 'await-catch-up'));
    // Refused before the leader moved: the clients never pointed at a cluster with a broken link.
    const moved = r.status.plan?.steps.find((s) => s.id === 'leader/move-leader');
    expect(moved?.startedAt && seen.pausedAt < Date.parse(moved.startedAt)).toBe(true);
    expectCompletedSafely(r);
  });
});
