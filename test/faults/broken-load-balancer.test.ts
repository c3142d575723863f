/**
 * Fault run 6: a new member's load balancer drops every packet from its add-learner step on.
 * The learner still catches up (it dials the leader), but the promote refuses it (the leader
 * cannot reach it); the join is undone on its own, the run pauses with the reason, and after
 * the load balancer is fixed a resume retries the join and the migration completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { FAULTY, joinFault } from '../helpers/join-fault.js';
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

describe('fault: the joining learner', () => {
  it('is behind a broken load balancer: it is not promoted, its join is undone, and the run completes after the LB is fixed', async () => {
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
      perCluster: { address: env.address },
      onStatus: fault.onStatus,
      expectedAdds: (m) => (m === FAULTY ? 2 : 1),
      specOverrides: { deadlines: { catchUp: '40s' } },
    });
    recordFaultRun('broken-load-balancer', '6. new member load balancer drops packets during its join', r, {
      recoveryMs: fault.seen.recoveredAt ? fault.seen.recoveredAt - fault.seen.injectedAt : null,
      notes: [fault.seen.pauseReason],
    });
    // etcd's raft stream to a learner is dialled by the learner, so this learner catches up;
    // the leader's dials to it fail, and the check before the promote sees that. The source's
    // worker reaches a target member through the same load balancer (per cluster), so its own
    // status call to the learner fails first there.
    expect(fault.seen.pauseReason).toMatch(
      new RegExp(
        `join of ${FAULTY} failed at join/${FAULTY}/promote: .*(cannot reach learner ${FAULTY}|learner ${FAULTY} \\(\\d+\\) is unreachable)`,
      ),
    );
    expectCompletedSafely(r);
  });
});
