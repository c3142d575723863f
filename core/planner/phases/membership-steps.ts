/**
 * The membership changes of phases `join`, `leader` and `retire`: the steps they share, and the
 * strategy that orders them (join.ts, leader.ts and retire.ts follow it).
 *
 * ## Strategy (and why)
 *
 * Notation: n old voters (the observed source members), m new members (target replicas, 1..7),
 * a state (a, b) = a old voters + b new voters; learners do not vote. Safety rules (design.md):
 * one membership change at a time, new members join as learners and are promoted only after
 * catching up, at most one learner at a time, never remove the leader (leadership moves to a
 * new member in phase `leader`), old members leave highest ordinal first and before their pod
 * stops, fault tolerance never below the source's (or, when the operator asks for a smaller
 * target, never below min(source's, target's): the final cluster cannot tolerate more).
 *
 * Every voter change moves a - b by exactly one, from +n to -m, so EVERY path passes through
 * exactly one state with a = b, where neither side has a majority if the link between the
 * clusters breaks. The count cannot be improved; what a plan chooses is where that state lies
 * and how long it lasts. A second learner cannot be waiting (one learner at a time), so if the
 * even state is left by a promotion it has to last through a whole join (add, pod start,
 * snapshot catch-up); if it is left by a removal it lasts one membership change. Removals only
 * happen after the switch-clients gate (before it, an abort must restore the source exactly, and
 * the clients still use the old members). Hence:
 *
 * - join: promote new members while the old side keeps a strict majority (b < n). When
 *   m >= n the member whose promotion would even the sides, `<target>-(n-1)`, joins and
 *   catches up but stays a learner: it costs no quorum and no fault tolerance.
 * - leader: move leadership to `<target>-0` (a new voter); the old side still has the majority.
 * - gate switch-clients: the clients move to the new voters; the old side keeps the majority.
 * - retire, m >= n: re-check the learner's catch-up, promote it (the even state (n, n)),
 *   immediately remove the highest old member (new majority), then join the remaining new
 *   members (m > n) while the old ones are still there, then remove the rest, highest first.
 * - retire, m < n: all m new members are voters already; remove old members highest first; the
 *   removal that reaches (m, m) is followed directly by the next removal; then both pods stop,
 *   one at a time. Keeping every new member a voter until then keeps the fault tolerance
 *   at the source's level for as long as possible when the target is smaller.
 * So for n >= 2 exactly one step leaves the cluster without a majority on either side, and it
 * is directly followed by a removal.
 *
 * A single-member source (n = 1, fault tolerance 0) is special: the leader can only move to a
 * new member once that member votes, and (1, 1) is the even state, so the leader phase itself
 * needs it. With m = 1 the even state therefore lasts from the promotion through the
 * switch-clients gate (clients need a voter on the new side to switch to). With m >= 2 the
 * join phase goes straight on to the second new member, so the even state lasts one join
 * (bounded) instead of an operator wait, and the gate sees a new-side majority.
 *
 * The brute-force search in test/unit/planner.test.ts checks for every n, m in 1..7 that no
 * sequence of membership steps does better (fewer operator waits, then fewer slow steps, then
 * fewer steps in an even state) under the same rules.
 *
 * `--initial-cluster` for each new member lists every member at that moment (old voters, new
 * voters, itself), `name=peerURL` for every peer URL, comma-separated; old members' URLs come
 * from the observed member list, new ones are `http(s)://<pod>.<headless-service>:2380`.
 */
import { initialCluster } from '../members.js';
import type { PlanBuilder } from '../plan-builder.js';
import type { PhaseName, PlanMember } from '../plan-types.js';
import { names, type PlanContext } from './context.js';

/**
 * Add `member` as a learner, start its pod with the current `--initial-cluster`, wait for its
 * catch-up; with `proveLink`, also for the proof of its peer link that its promote will need.
 */
export function addLearner(
  b: PlanBuilder,
  ctx: PlanContext,
  phase: PhaseName,
  member: PlanMember,
  { proveLink = false }: { proveLink?: boolean } = {},
): void {
  const { spec } = ctx;
  b.add(
    phase,
    member.name,
    { kind: 'add-learner', member: member.name, peerURLs: member.peerURLs },
    `add ${member.name} as a learner (${member.peerURLs.join(', ')})`,
  );
  b.add(
    phase,
    member.name,
    {
      kind: 'scale-target',
      member: member.name,
      replicas: member.ordinal + 1,
      initialCluster: initialCluster(b.currentMembers()),
    },
    `start ${member.name}: ${spec.target.statefulSet} to ${member.ordinal + 1} replica${member.ordinal === 0 ? '' : 's'}, initial cluster of ${b.currentMembers().length}`,
  );
  b.add(
    phase,
    member.name,
    {
      kind: 'await-catch-up',
      member: member.name,
      timeout: spec.deadlines.catchUp,
      ...(proveLink ? { proveLink: true } : {}),
    },
    proveLink
      ? `wait until learner ${member.name} has caught up with the leader and a voter in the other cluster reaches it`
      : `wait until learner ${member.name} has caught up with the leader`,
  );
}

/** Promote learner `member`; with `recheck`, first check again that it is still caught up. */
export function promote(
  b: PlanBuilder,
  ctx: PlanContext,
  phase: PhaseName,
  member: PlanMember,
  recheck: boolean,
): void {
  if (recheck) {
    b.add(
      phase,
      member.name,
      { kind: 'await-catch-up', member: member.name, timeout: ctx.spec.deadlines.catchUp },
      `check that learner ${member.name} is still caught up`,
    );
  }
  b.add(phase, member.name, { kind: 'promote', member: member.name }, `promote ${member.name} to voter`);
}

/** hashKV on every current voter; `when` names the check in the step id (`start`, `end`). */
export function verify(b: PlanBuilder, phase: PhaseName, when: string): void {
  const voters = b.voters();
  b.add(
    phase,
    when,
    { kind: 'verify-consistency', members: voters.map((v) => v.name) },
    `hashKV agrees on ${names(voters)}`,
  );
}
