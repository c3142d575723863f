/**
 * Fault runs 3 and 5: an old member dies while the cluster is stretched. A source follower that
 * stays down while a new member should join: the guard refuses membership changes until it is
 * back, then the run proceeds. The leader killed right before the leader transfer: the workflow
 * re-observes and moves leadership to the new member anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { CrashLoop, killEtcd, leaderName, podEndpoints } from '../helpers/pod-faults.js';
import { waitFor } from '../helpers/kube.js';
import { startTestEnvironment } from '../workflow/harness.js';
import { approveUpdate } from '../../workflows/messages.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const DOWN_FOR_MS = 20_000;

describe('fault: an old member dies during the stretch', () => {
  it('a source follower down while etcd-main-0 should join: no membership change until it is back, then the run completes', async () => {
    let loop: CrashLoop | undefined;
    let follower = '';
    let approvedAt = 0;
    let backAt = 0;
    const refusals = new Set<string>();
    const r = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      specOverrides: { gates: { join: 'manual' } },
      onStatus: async ({ status, handle, namespace, say }) => {
        if (!loop && status.waitingFor?.kind === 'approval' && status.waitingFor.gate === 'join') {
          const endpoints = await podEndpoints('source', namespace);
          const leader = await leaderName(endpoints);
          follower = Object.keys(endpoints).find((n) => n !== leader)!;
          loop = new CrashLoop('source', namespace, follower);
          await waitFor('the follower to be killed', () => Promise.resolve(loop!.kills.length > 0), {
            timeoutMs: 30_000,
          });
          say(`follower ${follower} killed; approving the join`);
          await handle.executeUpdate(approveUpdate, { args: [{ gate: 'join', by: 'fault-test' }] });
          approvedAt = Date.now();
        }
        if (loop && !backAt) {
          // What the add-learner activity's retries ran into while the follower was down.
          const d = await handle.describe();
          for (const a of d.raw.pendingActivities ?? [])
            if (a.lastFailure?.message) refusals.add(`${a.activityType?.name}: ${a.lastFailure.message}`);
          if (Date.now() - approvedAt > DOWN_FOR_MS) {
            await loop.stop();
            backAt = Date.now();
            say(`follower ${follower} may start again`);
          }
        }
      },
    });
    const firstAdd = r.quorum.events.find((e) => e.kind === 'added');
    recordFaultRun('follower-dies-during-join', '3. source follower down when a member should join', r, {
      recoveryMs: firstAdd && backAt ? Date.parse(firstAdd.at) - backAt : null,
      notes: [...refusals].slice(0, 3),
    });
    expect(loop!.kills.length).toBeGreaterThanOrEqual(1);
    // The guard said why: the follower is not healthy.
    expect([...refusals].join('\n')).toMatch(new RegExp(`addLearner: .*${follower}`));
    // No membership change while the follower was down: the first one came after it was let back.
    expect(firstAdd, 'a member was added').toBeDefined();
    expect(Date.parse(firstAdd!.at)).toBeGreaterThan(backAt);
    expectCompletedSafely(r, { failedOpsAllowed: true });
  });

  it('the leader killed right before the leader transfer: leadership still moves to etcd-main-0', async () => {
    let killed: { name: string; at: number } | undefined;
    let movedAt = 0;
    const r = await runAcceptanceScenario({
      client: env.client,
      perCluster: { address: env.address },
      specOverrides: { gates: { leader: 'manual' } },
      onStatus: async ({ status, handle, namespace, say }) => {
        if (!killed && status.waitingFor?.kind === 'approval' && status.waitingFor.gate === 'leader') {
          const source = await podEndpoints('source', namespace);
          const target = await podEndpoints('target', namespace);
          const leader = await leaderName({ ...source, ...target });
          if (!leader) throw new Error('no leader found at the leader gate');
          const pid = await killEtcd(leader in source ? 'source' : 'target', namespace, leader);
          if (!pid) throw new Error(`could not kill ${leader}`);
          killed = { name: leader, at: Date.now() };
          say(`leader ${leader} killed; approving the leader transfer at once`);
          await handle.executeUpdate(approveUpdate, { args: [{ gate: 'leader', by: 'fault-test' }] });
        }
        const move = status.plan?.steps.find((s) => s.kind === 'move-leader');
        if (killed && !movedAt && move?.state === 'done') movedAt = Date.now();
      },
    });
    const move = r.status.plan?.steps.find((s) => s.kind === 'move-leader');
    recordFaultRun('leader-killed-before-transfer', '5. leader killed right before the leader transfer', r, {
      recoveryMs: movedAt && killed ? movedAt - killed.at : null,
      notes: [`killed ${killed?.name}`, move?.note ?? ''],
    });
    expect(killed?.name).toMatch(/^etcd-\d$/);
    expect(move?.state).toBe('done');
    expect(move?.note).toMatch(/etcd-main-0/);
    expectCompletedSafely(r, { failedOpsAllowed: true });
  });
});
