/**
 * Membership changes against real etcd clusters (3.4, 3.5, 3.6): the guard's
 * refusals, learner add / catch-up / promote, move-leader, remove, the undo of
 * a learner that never starts, and idempotency of every change.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { moveLeader } from '../../activities/etcd/maintenance.js';
import {
  addLearner,
  awaitLearnerLink,
  promoteLearner,
  removeMember,
  undoAddLearner,
  waitForLearnerCatchUp,
} from '../../activities/etcd/membership.js';
import { hashKV, listMembers, observeCluster } from '../../activities/etcd/observe.js';
import type { RunContext } from '../../activities/run-context.js';
import type { GuardVerdict } from '../../core/safety-guard.js';
import { ETCD_VERSIONS, EtcdTestCluster, membershipShape, waitFor } from '../helpers/etcd-cluster.js';
import { failureOf, onEtcd } from './helpers.js';

const REQUIRED_FT = 1; // a 3-member source cluster tolerates one failure

function verdictOf(err: { details?: unknown[] | null }): GuardVerdict {
  const d = err.details?.[0] as { verdict?: GuardVerdict } | undefined;
  if (!d?.verdict) throw new Error(`no guard verdict in failure details: ${JSON.stringify(err.details)}`);
  return d.verdict;
}

describe.each(ETCD_VERSIONS)('etcd %s: membership', (version) => {
  let cluster: EtcdTestCluster;
  const beats: unknown[] = [];
  const rc: RunContext = { heartbeat: (d) => beats.push(d) };
  const original = ['etcd-0', 'etcd-1', 'etcd-2'];

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version });
    // Some data, so that a learner has something to catch up on.
    const c = cluster.client();
    for (let i = 0; i < 200; i++) await c.put(`seed/${i}`).value('x'.repeat(1024));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  const members = async (): Promise<string[]> =>
    membershipShape((await onEtcd(cluster.access(original), (c) => listMembers(c))).members);

  const leaderName = async (): Promise<string> => {
    const obs = await onEtcd(cluster.access(), observeCluster);
    const e = obs.endpoints.find((x) => x.status?.isLeader);
    if (!e) throw new Error('no leader');
    return e.name;
  };

  it('refuses a change while a voter is down, and changes nothing', async () => {
    const before = await members();
    await cluster.stopMember('etcd-2');
    try {
      const spec = await cluster.allocateMember('etcd-main-x');
      const err = await failureOf(
        onEtcd(cluster.access(original), (c) =>
          addLearner(
            c,
            { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: REQUIRED_FT },
            rc,
          ),
        ),
      );
      expect(err.type).toBe('MemberUnhealthy');
      expect(err.nonRetryable).toBe(false);
      const verdict = verdictOf(err);
      expect(verdict.allowed).toBe(false);
      expect(verdict.reasons.map((r) => r.code)).toContain('VoterUnreachable');
      expect(verdict.reasons.find((r) => r.code === 'VoterUnreachable')?.memberName).toBe('etcd-2');
      expect(await members()).toEqual(before);
    } finally {
      await cluster.restartMember('etcd-2');
    }
  });

  it('refuses removing the leader, and a removal that lowers fault tolerance', async () => {
    const before = await members();
    const leader = await leaderName();
    const e1 = await failureOf(
      onEtcd(cluster.access(), (c) =>
        removeMember(c, { member: { name: leader }, requiredFaultTolerance: 0 }, rc),
      ),
    );
    expect(e1.type).toBe('TargetIsLeader');
    expect(e1.nonRetryable).toBe(true);
    expect(e1.message).toMatch(/move the leadership first/);

    const follower = original.find((n) => n !== leader) ?? '';
    const e2 = await failureOf(
      onEtcd(cluster.access(), (c) =>
        removeMember(c, { member: { name: follower }, requiredFaultTolerance: REQUIRED_FT }, rc),
      ),
    );
    expect(e2.type).toBe('QuorumAtRisk');
    expect(e2.nonRetryable).toBe(true);
    expect(verdictOf(e2)).toMatchObject({ votersBefore: 3, votersAfter: 2, faultToleranceAfter: 0 });
    expect(await members()).toEqual(before);
  });

  it('adds a learner that never starts: idempotent add, a second learner refused, catch-up times out, undo removes it', async () => {
    const before = await members();
    const ghost = await cluster.allocateMember('etcd-main-ghost');
    cluster.registerUnstarted(ghost); // its endpoint is known, its process never runs
    const add = { name: ghost.name, peerURLs: [ghost.peerUrl], requiredFaultTolerance: REQUIRED_FT };
    const first = await onEtcd(cluster.access(original), (c) => addLearner(c, add, rc));
    expect(first.alreadyPresent).toBe(false);
    expect(first.member).toMatchObject({ isLearner: true, peerURLs: [ghost.peerUrl] });
    expect(first.verdict?.allowed).toBe(true);
    expect(first.initialCluster).toContain(`${ghost.name}=${ghost.peerUrl}`);
    expect(first.initialCluster.split(',')).toHaveLength(4);

    const second = await onEtcd(cluster.access(original), (c) => addLearner(c, add, rc));
    expect(second.alreadyPresent).toBe(true);
    expect(second.member.id).toBe(first.member.id);
    expect(membershipShape(second.members)).toEqual(membershipShape(first.members));

    const other = await cluster.allocateMember('etcd-main-other');
    const e = await failureOf(
      onEtcd(cluster.access(original), (c) =>
        addLearner(c, { ...add, name: other.name, peerURLs: [other.peerUrl] }, rc),
      ),
    );
    expect(e.type).toBe('LearnerAlreadyPresent');
    expect(e.nonRetryable).toBe(true);

    const access = cluster.access([...original, ghost.name]);
    beats.length = 0;
    const timeout = await failureOf(
      onEtcd(access, (c) =>
        waitForLearnerCatchUp(
          c,
          { member: { memberId: first.member.id, name: ghost.name }, timeoutMs: 3_000, pollMs: 250 },
          rc,
        ),
      ),
    );
    expect(timeout.type).toBe('LearnerNotCaughtUp');
    expect(timeout.message).toMatch(/never answered/);
    expect(beats.length).toBeGreaterThan(0);

    const undoGhost = { member: { memberId: first.member.id }, requiredFaultTolerance: REQUIRED_FT };
    const undo = await onEtcd(access, (c) => undoAddLearner(c, undoGhost, rc));
    expect(undo.alreadyRemoved).toBe(false);
    expect(undo.memberId).toBe(first.member.id);
    const again = await onEtcd(access, (c) => undoAddLearner(c, undoGhost, rc));
    expect(again.alreadyRemoved).toBe(true);
    expect(await members()).toEqual(before);
    cluster.members.delete(ghost.name);
  });

  it('does not promote a learner the leader cannot reach: it caught up over its own dial, but its advertised peer URL is a black hole', async () => {
    const before = await members();
    const listening = await cluster.allocateMember('etcd-main-unreachable');
    // Listens on one port and advertises another, where a black hole accepts connections and
    // never answers (as a broken load balancer can): the learner dials the leader (and so
    // catches up), the leader's dials to the learner hang until etcd's read timeout.
    const held = new Set<net.Socket>();
    const blackHole = net.createServer((socket) => {
      held.add(socket.on('error', () => undefined));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      for (const socket of held) socket.destroy();
      blackHole.close();
    });
    const blackHolePort = (blackHole.address() as net.AddressInfo).port;
    const spec = {
      ...listening,
      peerUrl: `${listening.peerUrl.split('://')[0]}://127.0.0.1:${blackHolePort}`,
      listenPeerUrl: listening.peerUrl,
    };
    const added = await onEtcd(cluster.access(original), (c) =>
      addLearner(c, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: REQUIRED_FT }, rc),
    );
    cluster.startAddedMember(spec, added.initialCluster);
    const access = cluster.access([...original, spec.name]);
    const learner = { memberId: added.member.id, name: spec.name };
    if (version !== '3.6') {
      const caught = await onEtcd(access, (c) =>
        waitForLearnerCatchUp(c, { member: learner, timeoutMs: 60_000, pollMs: 100 }, rc),
      );
      expect(caught.caughtUp).toBe(true);
    }
    // etcd 3.6 goes further: such a learner cannot even publish its name (its proposals time
    // out), so it never serves clients; the catch-up wait would refuse it, and so does the
    // guard before a promote.

    const refused = await failureOf(
      onEtcd(access, (c) =>
        promoteLearner(
          c,
          { member: learner, requiredFaultTolerance: REQUIRED_FT, peerLinkDeadlineMs: 8_000 },
          rc,
        ),
      ),
    );
    if (version === '3.6') {
      // The guard refuses first: a member of the list does not answer.
      expect(refused.type).toBe('MemberUnhealthy');
    } else {
      expect(refused.type).toBe('LearnerUnreachable');
      expect(refused.nonRetryable).toBe(true);
      expect(refused.message).toContain(spec.peerUrl);
      expect(refused.message).toMatch(
        /voter etcd-\d cannot reach learner etcd-main-unreachable \((not connected|its prober never got an answer)/,
      );
    }
    const list = await onEtcd(access, (c) => listMembers(c));
    expect(list.members.find((m) => m.id === added.member.id)?.isLearner).toBe(true);

    await onEtcd(access, (c) =>
      undoAddLearner(c, { member: { memberId: added.member.id }, requiredFaultTolerance: REQUIRED_FT }, rc),
    );
    await cluster.stopMember(spec.name);
    cluster.members.delete(spec.name);
    expect(await members()).toEqual(before);
  });

  // On 3.6 a new learner serves clients only once it published itself (9 s, see docs/benchmarks.md),
  // after the prober's first record: its promote never waits for the prober.
  if (version !== '3.6')
    it("judges a promote again after the wait for the voter's prober: a voter stopped meanwhile refuses it", async () => {
      const before = await members();
      const spec = await cluster.allocateMember('etcd-main-late');
      const added = await onEtcd(cluster.access(original), (c) =>
        addLearner(c, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: REQUIRED_FT }, rc),
      );
      cluster.startAddedMember(spec, added.initialCluster);
      const access = cluster.access([...original, spec.name]);
      const learner = { memberId: added.member.id, name: spec.name };
      await onEtcd(access, (c) =>
        waitForLearnerCatchUp(c, { member: learner, timeoutMs: 60_000, pollMs: 100 }, rc),
      );
      const leader = await leaderName();
      const other = original.find((n) => n !== leader)!;
      // The prober records a new peer seconds after the add: the first guard passed by then.
      let stopping: Promise<void> | undefined;
      const stopOtherWhileWaiting: RunContext = {
        heartbeat: (d) => {
          const waitingFor = (d as { waitingFor?: string } | undefined)?.waitingFor ?? '';
          if (!stopping && waitingFor.startsWith('peer link')) stopping = cluster.stopMember(other);
        },
      };
      try {
        const refused = await failureOf(
          onEtcd(access, (c) =>
            promoteLearner(
              c,
              {
                member: learner,
                requiredFaultTolerance: REQUIRED_FT,
                peerLinkFrom: (v) => v.name === leader,
              },
              stopOtherWhileWaiting,
            ),
          ),
        );
        expect(stopping, 'the promote waited for the prober').toBeDefined();
        expect(refused.type).toBe('MemberUnhealthy');
        expect(verdictOf(refused).reasons.find((r) => r.code === 'VoterUnreachable')?.memberName).toBe(other);
        const list = await onEtcd(access, (c) => listMembers(c));
        expect(list.members.find((m) => m.id === added.member.id)?.isLearner).toBe(true);
      } finally {
        await stopping;
        await cluster.restartMember(other);
      }
      await onEtcd(access, (c) =>
        undoAddLearner(c, { member: { memberId: added.member.id }, requiredFaultTolerance: REQUIRED_FT }, rc),
      );
      await cluster.stopMember(spec.name);
      cluster.members.delete(spec.name);
      expect(await members()).toEqual(before);
    });

  it('adds a learner, reports catch-up progress, promotes it, moves the leader to it and removes an old member', async () => {
    const spec = await cluster.allocateMember('etcd-main-0');
    const added = await onEtcd(cluster.access(original), (c) =>
      addLearner(c, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: REQUIRED_FT }, rc),
    );
    expect(added.alreadyPresent).toBe(false);
    cluster.startAddedMember(spec, added.initialCluster);
    const access = cluster.access([...original, spec.name]);

    beats.length = 0;
    const learner = { memberId: added.member.id, name: spec.name }; // it has no name in the list until it starts
    const caught = await onEtcd(access, (c) =>
      waitForLearnerCatchUp(c, { member: learner, timeoutMs: 60_000, pollMs: 100 }, rc),
    );
    expect(caught).toMatchObject({ memberId: added.member.id, caughtUp: true });
    expect(caught.lag).toBeLessThanOrEqual(50);
    expect(caught.learnerApplied).toBeGreaterThan(200); // it replicated the seed writes
    const percents = beats.map((b) => (b as { percent?: number }).percent).filter((p) => p !== undefined);
    expect(percents.length).toBeGreaterThan(0);
    expect(percents.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(percents.at(-1)).toBeGreaterThan(90);

    // The learner answers status but is not a voter yet.
    const obs = await onEtcd(access, observeCluster);
    expect(obs.endpoints.find((e) => e.name === spec.name)?.status?.isLearner).toBe(true);

    // The peer-link proof comes from the voter the caller names (a follower here), not the leader.
    const follower = obs.endpoints.find(
      (e) => e.status && !e.status.isLearner && e.status.id !== obs.leaderId,
    )!;
    // The same proof, taken ahead of the promote without changing anything.
    const linked = await onEtcd(access, (c) =>
      awaitLearnerLink(c, { member: learner, peerLinkFrom: (v) => v.name === follower.name }, rc),
    );
    expect(linked).toMatchObject({ checked: true, voter: follower.name });
    expect(
      (await onEtcd(access, observeCluster)).members.find((m) => m.id === learner.memberId)?.isLearner,
    ).toBe(true);
    const promoteCalled = Date.now();
    const promoted = await onEtcd(access, (c) =>
      promoteLearner(
        c,
        {
          member: learner,
          requiredFaultTolerance: REQUIRED_FT,
          peerLinkFrom: (v) => v.name === follower.name,
        },
        rc,
      ),
    );
    const promoteReturned = Date.now();
    expect(promoted.alreadyVoter).toBe(false);
    expect(promoted.member.isLearner).toBe(false);
    expect(promoted.verdict).toMatchObject({ votersBefore: 3, votersAfter: 4 });
    expect(promoted.peerLink).toMatchObject({ checked: true, voter: follower.name });
    // What it waited for etcd includes the peer-link check.
    expect(promoted.etcdWaitMs).toBeGreaterThanOrEqual(promoted.peerLink!.waitedMs!);
    // When etcd applied it: after the peer-link wait, before the evidence read that confirms it.
    const appliedAt = Date.parse(promoted.appliedAt!);
    expect(appliedAt).toBeGreaterThanOrEqual(promoteCalled + promoted.peerLink!.waitedMs!);
    expect(appliedAt).toBeLessThanOrEqual(promoteReturned);
    const promotedAgain = await onEtcd(access, (c) =>
      promoteLearner(c, { member: { name: spec.name }, requiredFaultTolerance: REQUIRED_FT }, rc),
    );
    expect(promotedAgain.alreadyVoter).toBe(true);
    expect(promotedAgain.appliedAt).toBeUndefined(); // nothing changed
    expect(membershipShape(promotedAgain.members)).toEqual(membershipShape(promoted.members));

    // Move the leadership to the new member; a second call is a no-op.
    const before = await leaderName();
    expect(before).not.toBe(spec.name);
    const moved = await onEtcd(access, (c) => moveLeader(c, { target: { name: spec.name } }, rc));
    expect(moved).toMatchObject({ changed: true, leaderId: added.member.id });
    expect(await leaderName()).toBe(spec.name);
    const movedAgain = await onEtcd(access, (c) => moveLeader(c, { target: { name: spec.name } }, rc));
    expect(movedAgain.changed).toBe(false);
    expect(await leaderName()).toBe(spec.name);

    // Remove the highest old ordinal right after the promote: etcd answers "unhealthy cluster"
    // for ~5 s after a voter joins, which the activity retries.
    const removed = await onEtcd(access, (c) =>
      removeMember(c, { member: { name: 'etcd-2' }, requiredFaultTolerance: REQUIRED_FT }, rc),
    );
    expect(removed).toMatchObject({ alreadyRemoved: false, dataDirMustBeWiped: true });
    expect(removed.verdict).toMatchObject({ votersBefore: 4, votersAfter: 3, faultToleranceAfter: 1 });
    await waitFor('the removed member to stop', () => Promise.resolve(!cluster.isRunning('etcd-2')), {
      timeoutMs: 30_000,
    });
    await cluster.wipeMember('etcd-2');
    const finalAccess = cluster.access(['etcd-0', 'etcd-1', spec.name]);
    const removedAgain = await onEtcd(finalAccess, (c) =>
      removeMember(
        c,
        { member: { memberId: removed.memberId ?? '' }, requiredFaultTolerance: REQUIRED_FT },
        rc,
      ),
    );
    expect(removedAgain.alreadyRemoved).toBe(true);

    const list = await onEtcd(finalAccess, (c) => listMembers(c));
    expect(list.members.map((m) => m.name).sort()).toEqual(['etcd-0', 'etcd-1', spec.name]);
    expect(list.members.every((m) => !m.isLearner)).toBe(true);
    const hash = await onEtcd(finalAccess, (c) => hashKV(c));
    expect(hash.agree).toBe(true);
    expect(hash.hashes).toHaveLength(3);
  });
});
