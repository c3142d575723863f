/**
 * Fault run 11: the target cluster is lost during the join. At the leader gate (two new members
 * are voters, the third a learner: 3 + 2 voters) every member load balancer starts dropping in
 * both clusters and the target's API server stops; then the run is aborted. The rollback goes
 * through the source alone: it removes the lost new members from etcd (3 of 5 voters answer,
 * then 3 of 4), goes past the undos the target cannot run, undoes everything in the source, and
 * the result lists what stays in the target. The load client, a client of the source, sees no
 * failed operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario, type ScenarioContext, type ScenarioReport } from '../helpers/acceptance.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { loseTarget, type TargetLoss } from '../helpers/target-loss.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

/** Loses the target when the run waits at the leader gate, before the scenario aborts there. */
function atLeaderGate() {
  const seen: { loss?: TargetLoss; members?: string[]; leader?: string | null } = {};
  const onStatus = async ({ status, namespace, say }: ScenarioContext) => {
    if (seen.loss || status.waitingFor?.kind !== 'approval' || status.waitingFor.gate !== 'leader') return;
    seen.members = status.members.map((m) => `${m.name}${m.isLearner ? ' (learner)' : ''}`);
    seen.leader = status.lastEvidence?.leader ?? null;
    seen.loss = await loseTarget(namespace);
    say(`target lost: ${seen.loss.cut.length} load balancers dropping, target API server stopped`);
  };
  return { seen, onStatus };
}

function expectSourceBack(r: ScenarioReport, seen: ReturnType<typeof atLeaderGate>['seen']): void {
  expect(seen.loss, 'the target was lost at the leader gate').toBeDefined();
  expect(seen.members?.sort()).toEqual([
    'etcd-0',
    'etcd-1',
    'etcd-2',
    'etcd-main-0',
    'etcd-main-1',
    'etcd-main-2 (learner)',
  ]);
  expect(r.failure).toBeUndefined();
  expect(r.outcome).toBe('aborted');
  // The source's original members, by ID, and nothing else in its member list.
  expect(r.sourceMemberIdsAfter).toEqual(r.sourceMemberIdsBefore);
  expect(r.status.lastEvidence?.members.map((m) => m.name).sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  expect(r.hashKvConsistent).toBe(true);
  expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
  expect(r.lostWrites).toBe(0);
  expect(r.check.violations).toEqual([]);
  expect(r.quorum.quorumLost).toBe(false);

  // Every etcd undo ran; the undos in the source ran; only the target's Kubernetes undos failed.
  const comps = r.status.compensations;
  for (const c of comps.filter((x) => x.state === 'failed')) {
    expect(c.title).toMatch(/etcd-main|\(target\)/);
    expect(c.error).toMatch(/API server|target/);
  }
  expect(comps.filter((c) => /\(source\)$/.test(c.title)).every((c) => c.state === 'done')).toBe(true);
  expect(comps.every((c) => c.state !== 'pending')).toBe(true);

  // What stays in the target, precisely.
  const left = r.status.leftBehind;
  expect(left).not.toBeNull();
  expect(left!.members).toEqual([]);
  expect(left!.objects.source).toBeUndefined();
  const ns = r.namespace;
  expect(left!.objects.target).toEqual(
    expect.arrayContaining([
      `pod etcd-main-2 of StatefulSet etcd-main in target/${ns} (not scaled back to 2) and its PersistentVolumeClaims`,
      `pod etcd-main-1 of StatefulSet etcd-main in target/${ns} (not scaled back to 1) and its PersistentVolumeClaims`,
      `StatefulSet etcd-main in target/${ns} with pod etcd-main-0 and its PersistentVolumeClaims`,
      `headless Service etcd-main in target/${ns}`,
      `LoadBalancer Services etcd-main-0-lb, etcd-main-1-lb, etcd-main-2-lb in target/${ns}`,
    ]),
  );
  expect(r.status.error).toMatch(/aborted by acceptance-test/);
}

function record(
  id: string,
  scenario: string,
  r: ScenarioReport,
  seen: ReturnType<typeof atLeaderGate>['seen'],
) {
  const rollbackMs = seen.loss ? Date.parse(r.phases.at(-1)?.end ?? '') - seen.loss.lostAt : null;
  recordFaultRun(id, scenario, r, {
    outcome: r.outcome === 'aborted' ? 'aborted, source restored' : r.outcome,
    recoveryMs: rollbackMs !== null && Number.isFinite(rollbackMs) ? rollbackMs : null,
    notes: [
      `leader at the gate: ${seen.leader ?? '?'}`,
      ...r.status.compensations.map(
        (c) => `${c.title}: ${c.state}${c.error ? ` (${c.error.slice(0, 120)})` : ''}`,
      ),
      `left behind in target: ${(r.status.leftBehind?.objects.target ?? []).join('; ')}`,
    ],
  });
}

describe('fault: the target cluster is lost during the join', () => {
  it('two clouds, a worker per cluster: abort rolls the source back to its original members', async () => {
    const fault = atLeaderGate();
    let r: ScenarioReport;
    try {
      r = await runAcceptanceScenario({
        client: env.client,
        perCluster: { address: env.address },
        abortAtGate: 'leader',
        onStatus: fault.onStatus,
        keys: 200,
      });
    } finally {
      await fault.seen.loss?.restore();
    }
    record('target-lost', '11. target lost during the join (two clouds)', r, fault.seen);
    expectSourceBack(r, fault.seen);
  });

  it('kind topology, one worker for both clusters: the same', async () => {
    const fault = atLeaderGate();
    let r: ScenarioReport;
    try {
      r = await runAcceptanceScenario({
        client: env.client,
        connection: env.nativeConnection,
        abortAtGate: 'leader',
        onStatus: fault.onStatus,
        keys: 200,
      });
    } finally {
      await fault.seen.loss?.restore();
    }
    record('target-lost-single', '11. target lost during the join (one worker)', r, fault.seen);
    expectSourceBack(r, fault.seen);
  });
});
