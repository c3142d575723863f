/**
 * Removing a voter that may lead. An election can hand the leadership to a member about to leave
 * at any moment (a one-second blip between the clusters is enough), and etcd's guard refuses to
 * remove the leader. So before the removal the leadership moves to a member that stays, and a
 * removal refused because the member became leader in between is tried again.
 */
import type { RunContext } from '../run-context.js';
import { noopRunContext } from '../run-context.js';
import { MemberUnhealthy, TargetIsLeader } from './errors.js';
import type { EtcdConnection } from './connection.js';
import { moveLeader } from './maintenance.js';
import { removeMember } from './membership.js';
import { findMember, observeCluster } from './observe.js';
import type { ClusterObservation, MemberInfo, RemoveInput, RemoveResult } from './types.js';

export interface LeaderSafeRemoveInput extends RemoveInput {
  /** Members to hand the leadership to first (e.g. the other cluster's), when one is healthy. */
  preferAsLeader: (member: MemberInfo) => boolean;
}

export interface LeaderSafeRemoveResult extends RemoveResult {
  /** Where the leadership moved before the removal (null: the member did not lead). */
  leaderMovedTo: string | null;
}

const ATTEMPTS = 3;

export async function removeMemberNotLeading(
  conn: EtcdConnection,
  input: LeaderSafeRemoveInput,
  rc: RunContext = noopRunContext,
): Promise<LeaderSafeRemoveResult> {
  let leaderMovedTo: string | null = null;
  for (let attempt = 1; ; attempt++) {
    const observation = await observeCluster(conn);
    const target = findMember(observation.members, input.member);
    const leads = target !== undefined && observation.leaderId === target.id;
    if (leads) {
      const successor = successorOf(observation, target, input.preferAsLeader);
      const moved = await moveLeader(conn, { target: { memberId: successor.id, name: successor.name } }, rc);
      leaderMovedTo = moved.leaderName;
    }
    try {
      // Unless the leadership moved, the guard judges the observation just taken.
      const fresh = leads ? undefined : observation;
      return { ...(await removeMember(conn, input, rc, fresh)), leaderMovedTo };
    } catch (err) {
      if (err instanceof TargetIsLeader && attempt < ATTEMPTS) continue;
      throw err;
    }
  }
}

/** A healthy voter that stays, preferred ones first. */
function successorOf(
  observation: ClusterObservation,
  leaving: MemberInfo,
  preferred: (member: MemberInfo) => boolean,
): MemberInfo {
  const healthy = observation.members.filter(
    (m) =>
      m.id !== leaving.id &&
      !m.isLearner &&
      observation.endpoints.some((e) => e.name === m.name && e.reachable && e.status !== undefined),
  );
  const successor = healthy.find(preferred) ?? healthy[0];
  if (!successor) {
    throw new MemberUnhealthy(
      `${leaving.name || leaving.id} leads and no other voter answers: cannot hand the leadership over before removing it`,
    );
  }
  return successor;
}
