/**
 * Any size, in the test command (issue #16: a 5-member etcd 3.5 configured by args, migrated to 3
 * members under load, failed after the client switch). The args fixture's 5 members go to 3 new
 * ones under the live load client. In the middle of retire, once the first old member is removed,
 * the leadership is moved back to the old member removed last, as an election between the
 * clusters could: every removal before it runs while an old member leads, and its own removal
 * must hand the leadership to a new member first (activities/etcd/leader-safe-removal.ts).
 * Its cleanup removes everything the run added or left: the source cluster's DNS entries, the new
 * members' load balancers and the old members' PVCs too (each off by default, as the acceptance
 * run keeps them).
 */
import { describe, expect, it } from 'vitest';
import { runAcceptanceScenario, type ScenarioContext } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { moveLeaderTo, podEndpoints } from '../helpers/pod-faults.js';
import { argsFixture } from '../helpers/source-fixture.js';
import { useTestEnvironment } from '../workflow/harness.js';

const temporal = useTestEnvironment();

interface LeaderMove {
  from: string;
  to: string;
  requestedAt: number;
  doneAt: number;
}

/**
 * As the second removal's activity starts (the first is done): the leadership to the old member
 * whose removal comes last. At the activity, not at a status poll: the removals take a few
 * hundred milliseconds each, and a poll came too late for the move more than once.
 */
function leaderBackToAnOldMember(): {
  moved: () => LeaderMove | undefined;
  onStatus: (ctx: ScenarioContext) => Promise<void>;
  beforeStep: (stepId: string) => Promise<void>;
} {
  let moved: LeaderMove | undefined;
  let run: { removals: string[]; namespace: string; say: (line: string) => void } | undefined;
  const onStatus = ({ status, namespace, say }: ScenarioContext): Promise<void> => {
    const removals = status.plan?.steps.filter((s) => s.kind === 'remove-member').map((s) => s.id);
    if (!run && removals?.length) run = { removals, namespace, say };
    return Promise.resolve();
  };
  const beforeStep = async (stepId: string) => {
    if (moved || !run || stepId !== run.removals[1]) return;
    const to = run.removals.at(-1)!.split('/')[1]!;
    const endpoints = {
      ...(await podEndpoints('source', run.namespace)),
      ...(await podEndpoints('target', run.namespace)),
    };
    const requestedAt = Date.now();
    const from = await moveLeaderTo(endpoints, to);
    moved = { from, to, requestedAt, doneAt: Date.now() };
    run.say(`leadership moved ${from} -> ${to} after the first removal`);
  };
  return { moved: () => moved, onStatus, beforeStep };
}

describe('any size: 5 -> 3 from an args-configured etcd 3.5', () => {
  it('completes under load with the leadership moved back to an old member in the middle of retire', async () => {
    const fault = leaderBackToAnOldMember();
    const r = await runAcceptanceScenario({
      client: temporal().client,
      connection: temporal().nativeConnection,
      sourceFixture: argsFixture(5),
      targetReplicas: 3,
      // Every cleanup option: what the run added between the clusters goes, and the old PVCs.
      specOverrides: {
        cleanup: { removeSourceClusterDns: true, deleteTargetMemberServices: true, deletePVCs: true },
      },
      onStatus: fault.onStatus,
      beforeStep: fault.beforeStep,
    });
    const moved = fault.moved();
    const removal = r.status?.plan?.steps.find((s) => s.id === `retire/${moved?.to}/remove-member`);
    // What the monitor saw lead: the old member from the move on, then a new one from its removal on.
    const changes = r.quorum.leaderChanges;
    const heldFrom = moved
      ? changes.filter((c) => c.name === moved.to && Date.parse(c.at) >= moved.requestedAt).at(0)
      : undefined;
    const handedTo = heldFrom ? changes[changes.indexOf(heldFrom) + 1] : undefined;
    const removed = r.quorum.events.find((e) => e.kind === 'removed' && e.name === moved?.to);
    recordFaultRun(
      'any-size-5-to-3-leader-back',
      'any size 5 -> 3, leadership moved back to an old member in retire',
      r,
      {
        recoveryMs: handedTo && moved ? Date.parse(handedTo.at) - moved.doneAt : null,
        notes: [
          moved ? `moved ${moved.from} -> ${moved.to} after the first removal` : 'no leader move',
          `handed to ${handedTo?.name ?? '?'} at ${handedTo?.at ?? '?'}; ${removal?.id}: ${removal?.note ?? removal?.state}`,
        ],
      },
    );

    expectCompletedSafely(r);
    expect(r.opsTotal).toBeGreaterThan(1000);
    expect(r.sourcePvcsAfter).toEqual([]);
    expect(r.finalMembers).toHaveLength(3);
    expect(r.betweenClustersAfter).toEqual({
      dnsNames: { source: [], target: [] },
      memberServices: { source: [], target: [] },
    });
    const cleanupSteps = r.status?.plan?.steps.filter((s) => s.id.startsWith('cleanup/')) ?? [];
    expect(cleanupSteps.map((s) => [s.kind, s.id.split('/')[1], s.state])).toEqual([
      ['cleanup-dns', 'target', 'done'],
      ['cleanup-dns', 'source', 'done'],
      ['cleanup-member-services', 'source', 'done'],
      ['cleanup-member-services', 'target', 'done'],
      ['cleanup-source-statefulset', 'source', 'done'],
      ['cleanup-source-pvcs', 'source', 'done'],
    ]);
    // The default spares members with almost nothing to reclaim, and so the leader's move.
    const shrink = r.status?.plan?.steps.find((s) => s.id === 'shrink/rolling-defragment');
    expect(shrink?.note).toMatch(/^defragmented skip etcd-\d( -> skip etcd-\d){4};/);

    // The leadership really went back to an old voter, after the first removal, before its own.
    expect(moved, 'the leadership was moved').toBeDefined();
    expect(moved!.from).toMatch(/^etcd-main-\d$/);
    expect(moved!.to).toMatch(/^etcd-\d$/);
    expect(heldFrom, JSON.stringify(changes)).toBeDefined();
    // It kept the leadership until its own removal, which handed it to a new member and succeeded.
    expect(removal?.state).toBe('done');
    expect(removal?.note).toMatch(/^removed /);
    expect(handedTo?.name, JSON.stringify(changes)).toMatch(/^etcd-main-\d$/);
    expect(Date.parse(handedTo!.at)).toBeGreaterThanOrEqual(Date.parse(removal!.startedAt!));
    expect(removed, 'the monitor saw the removal').toBeDefined();
    expect(Date.parse(removed!.at)).toBeGreaterThanOrEqual(Date.parse(handedTo!.at));
  });
});
