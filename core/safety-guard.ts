/**
 * The safety guard: one pure function that decides whether a change to a live
 * etcd cluster may start, and explains why not.
 *
 * Pure on purpose (no Node modules, no I/O, no activity imports): the workflow
 * imports it to show the operator the verdict; the activities import it to
 * refuse a change before touching the cluster. Its verdict is a small,
 * serialisable object that goes into workflow history as evidence.
 *
 * Rules (see design.md, "Safety rules"):
 * - every voting member is reachable, healthy (answered a linearizable read),
 *   and agrees on the member list and on the leader; membership changes also
 *   need no active alarm (maintenance and move-leader are how NOSPACE is cleared);
 *   exception: a voter that is itself the target of a removal may be down
 *   (removing a dead member is how the cluster gets its fault tolerance back);
 *   and while a member that is down is removed, other voters may be down too,
 *   as long as the voters that answer are a quorum of the cluster before the
 *   removal (which commits it) and so of the cluster after it: the rollback of
 *   a join whose cluster was lost removes the lost new members one by one;
 * - only one learner at a time: adding a learner is refused while one exists;
 * - a change never leaves less fault tolerance than the source cluster had,
 *   unless it does not lower the current fault tolerance either (a change that
 *   keeps an already degraded cluster where it is is reported as a warning);
 * - the leader is never removed (move the leadership first);
 * - promote targets a reachable learner; move-leader targets a healthy voter.
 */

/** A change the guard is asked about. Member IDs are uint64 as decimal strings. */
export type ClusterChange =
  | { kind: 'add-learner'; name: string; peerURLs: string[] }
  | { kind: 'promote'; memberId: string }
  | { kind: 'remove'; memberId: string }
  | { kind: 'move-leader'; memberId: string }
  | { kind: 'maintenance'; operation: 'compact' | 'defragment' | 'disarm-alarms'; memberId?: string };

/** A member as listed by the cluster (member list). */
export interface GuardMember {
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerURLs: string[];
  isLearner: boolean;
}

/** What was observed through one member's own endpoint, just before the change. */
export interface GuardMemberObservation {
  id: string;
  /** The member answered a status request. */
  reachable: boolean;
  /** Voters: a linearizable read through this member succeeded. Learners: status answered. */
  healthy: boolean;
  /** Who this member thinks the leader is ('0' or absent: no leader). */
  leaderId?: string;
  /** The member IDs this member lists (voters only; learners cannot serve the member list). */
  memberIds?: string[];
  /** Active alarms raised for this member (e.g. 'NOSPACE'). */
  alarms?: string[];
  /** Short reason when unreachable/unhealthy. */
  error?: string;
}

export interface GuardInput {
  change: ClusterChange;
  /** The member list, read linearizably from a voter. */
  members: GuardMember[];
  /** One entry per member that could be observed; a member without an entry counts as unreachable. */
  observations: GuardMemberObservation[];
  /** Fault tolerance of the source cluster when the migration started (3 members: 1). */
  requiredFaultTolerance: number;
}

export type GuardReasonCode =
  | 'VoterUnreachable'
  | 'VoterUnhealthy'
  | 'AlarmActive'
  | 'NoLeader'
  | 'MemberListDisagreement'
  | 'LearnerAlreadyPresent'
  | 'PeerURLInUse'
  | 'FaultToleranceTooLow'
  | 'TargetIsLeader'
  | 'TargetNotFound'
  | 'TargetNotLearner'
  | 'TargetIsLearner'
  | 'TargetUnreachable';

export interface GuardReason {
  code: GuardReasonCode;
  message: string;
  memberId?: string;
  memberName?: string;
}

export interface GuardVerdict {
  allowed: boolean;
  /** One line for the operator: "allowed: remove etcd-2 (...)" or "refused: ...". */
  summary: string;
  change: ClusterChange;
  reasons: GuardReason[];
  /** Facts that do not block the change but the operator should see. */
  warnings: string[];
  votersBefore: number;
  votersAfter: number;
  quorumBefore: number;
  quorumAfter: number;
  faultToleranceBefore: number;
  faultToleranceAfter: number;
  requiredFaultTolerance: number;
  leaderId: string | null;
  learnerIds: string[];
}

/** Votes needed for a decision among `voters` voting members. */
export function quorum(voters: number): number {
  return voters <= 0 ? 0 : Math.floor(voters / 2) + 1;
}

/** How many voting members may fail while the cluster keeps a quorum: floor((v-1)/2). */
export function faultTolerance(voters: number): number {
  return voters <= 0 ? 0 : Math.floor((voters - 1) / 2);
}

const NO_LEADER = '0';

function label(m: GuardMember | undefined, id: string): string {
  return m?.name ? `${m.name} (${id})` : `member ${id}`;
}

function describeChange(change: ClusterChange, byId: Map<string, GuardMember>): string {
  switch (change.kind) {
    case 'add-learner':
      return `add learner ${change.name} (${change.peerURLs.join(',')})`;
    case 'promote':
      return `promote ${label(byId.get(change.memberId), change.memberId)}`;
    case 'remove':
      return `remove ${label(byId.get(change.memberId), change.memberId)}`;
    case 'move-leader':
      return `move leader to ${label(byId.get(change.memberId), change.memberId)}`;
    case 'maintenance':
      return change.memberId === undefined
        ? change.operation
        : `${change.operation} ${label(byId.get(change.memberId), change.memberId)}`;
  }
}

function votersAfterChange(
  change: ClusterChange,
  byId: Map<string, GuardMember>,
  votersBefore: number,
): number {
  const target =
    'memberId' in change && change.memberId !== undefined ? byId.get(change.memberId) : undefined;
  switch (change.kind) {
    case 'promote':
      return target?.isLearner ? votersBefore + 1 : votersBefore;
    case 'remove':
      return target && !target.isLearner ? votersBefore - 1 : votersBefore;
    default:
      return votersBefore;
  }
}

/** A member that did not answer (voters: or failed the linearizable read); absent counts as down. */
function isDown(m: GuardMember | undefined, obsById: Map<string, GuardMemberObservation>): boolean {
  if (!m) return false;
  const o = obsById.get(m.id);
  return !o?.reachable || !o.healthy;
}

function sameIdSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function evaluateChange(input: GuardInput): GuardVerdict {
  const { change, members, requiredFaultTolerance } = input;
  const byId = new Map(members.map((m) => [m.id, m]));
  const obsById = new Map(input.observations.map((o) => [o.id, o]));
  const voters = members.filter((m) => !m.isLearner);
  const learners = members.filter((m) => m.isLearner);
  const reasons: GuardReason[] = [];
  const warnings: string[] = [];
  const add = (code: GuardReasonCode, message: string, m?: GuardMember): void => {
    reasons.push({
      code,
      message,
      ...(m ? { memberId: m.id } : {}),
      ...(m?.name ? { memberName: m.name } : {}),
    });
  };
  const isMembershipChange =
    change.kind === 'add-learner' || change.kind === 'promote' || change.kind === 'remove';
  // A voter being removed may itself be down: removing it is what restores the fault tolerance.
  const exemptFromHealth = change.kind === 'remove' ? change.memberId : undefined;
  const removingDownMember = change.kind === 'remove' && isDown(byId.get(change.memberId), obsById);

  // 1. Every voter reachable, healthy, without alarms.
  const downVoters: { v: GuardMember; code: 'VoterUnreachable' | 'VoterUnhealthy'; message: string }[] = [];
  for (const v of voters) {
    if (v.id === exemptFromHealth) {
      const o = obsById.get(v.id);
      if (!o?.reachable || !o.healthy) {
        warnings.push(`${label(v, v.id)} is being removed while down (${o?.error ?? 'not observed'})`);
      }
      continue;
    }
    const o = obsById.get(v.id);
    if (!o || !o.reachable) {
      downVoters.push({
        v,
        code: 'VoterUnreachable',
        message: `voter ${label(v, v.id)} is unreachable: ${o?.error ?? 'no endpoint observed'}`,
      });
    } else if (!o.healthy) {
      downVoters.push({
        v,
        code: 'VoterUnhealthy',
        message: `voter ${label(v, v.id)} is unhealthy: ${o.error ?? 'linearizable read failed'}`,
      });
    }
    if (o?.alarms && o.alarms.length > 0 && isMembershipChange) {
      add('AlarmActive', `voter ${label(v, v.id)} has active alarm(s): ${o.alarms.join(', ')}`, v);
    }
  }
  // Removing a member that is down while other voters are down too: the voters that answer must
  // be a quorum now (to commit the removal) and so after it. The removal takes nothing from them.
  const answering =
    voters.length - downVoters.length - (voters.some((v) => v.id === exemptFromHealth) ? 1 : 0);
  if (downVoters.length > 0 && removingDownMember && answering >= quorum(voters.length)) {
    const after = votersAfterChange(change, byId, voters.length);
    for (const d of downVoters) warnings.push(`${d.message}; tolerated while removing a member that is down`);
    warnings.push(
      `${answering} of ${voters.length} voters answer: a quorum of the ${voters.length} voters now (${quorum(voters.length)}) ` +
        `and of the ${after} after the removal (${quorum(after)}); with the others down, ` +
        `${Math.max(0, answering - quorum(after))} more may fail after it (${Math.max(0, answering - quorum(voters.length))} before)`,
    );
  } else {
    for (const d of downVoters) add(d.code, d.message, d.v);
  }

  // 2. Every reachable voter agrees on the member list and on the leader.
  const listed = members.map((m) => m.id);
  for (const v of voters) {
    const o = obsById.get(v.id);
    if (!o?.reachable || !o.healthy || v.id === exemptFromHealth) continue;
    if (!o.memberIds) {
      add('MemberListDisagreement', `could not read the member list through voter ${label(v, v.id)}`, v);
    } else if (!sameIdSet(o.memberIds, listed)) {
      add(
        'MemberListDisagreement',
        `voter ${label(v, v.id)} lists members [${[...o.memberIds].sort().join(', ')}], expected [${[...listed].sort().join(', ')}]`,
        v,
      );
    }
  }
  const leaderVotes = new Map<string, number>();
  for (const v of voters) {
    const o = obsById.get(v.id);
    if (!o?.reachable || !o.leaderId || o.leaderId === NO_LEADER) continue;
    leaderVotes.set(o.leaderId, (leaderVotes.get(o.leaderId) ?? 0) + 1);
  }
  let leaderId: string | null = null;
  if (leaderVotes.size === 1) {
    leaderId = [...leaderVotes.keys()][0] ?? null;
  }
  if (leaderId === null) {
    add(
      'NoLeader',
      leaderVotes.size === 0
        ? 'no voter reports a leader'
        : `voters disagree on the leader: ${[...leaderVotes.keys()].join(', ')}`,
    );
  } else if (!byId.has(leaderId) || byId.get(leaderId)?.isLearner) {
    add('NoLeader', `reported leader ${leaderId} is not a voter in the member list`);
  }

  // 3. Change-specific rules.
  const target =
    'memberId' in change && change.memberId !== undefined ? byId.get(change.memberId) : undefined;
  if ('memberId' in change && change.memberId !== undefined && !target) {
    add('TargetNotFound', `member ${change.memberId} is not in the member list`);
  }
  switch (change.kind) {
    case 'add-learner': {
      for (const l of learners) {
        add(
          'LearnerAlreadyPresent',
          `learner ${label(l, l.id)} is already present; only one learner at a time`,
          l,
        );
      }
      for (const m of members) {
        const clash = m.peerURLs.filter((u) => change.peerURLs.includes(u));
        if (clash.length > 0) {
          add('PeerURLInUse', `peer URL ${clash.join(', ')} already belongs to ${label(m, m.id)}`, m);
        }
      }
      break;
    }
    case 'promote': {
      if (target && !target.isLearner)
        add('TargetNotLearner', `${label(target, target.id)} is not a learner`, target);
      if (target?.isLearner) {
        const o = obsById.get(target.id);
        if (!o?.reachable) {
          add(
            'TargetUnreachable',
            `learner ${label(target, target.id)} is unreachable: ${o?.error ?? 'no endpoint observed'}`,
            target,
          );
        }
      }
      break;
    }
    case 'remove': {
      if (target && target.id === leaderId) {
        add('TargetIsLeader', `${label(target, target.id)} is the leader; move the leadership first`, target);
      }
      break;
    }
    case 'move-leader': {
      if (target?.isLearner) add('TargetIsLearner', `${label(target, target.id)} is a learner`, target);
      break;
    }
    case 'maintenance':
      break;
  }

  // 4. Fault tolerance.
  const votersBefore = voters.length;
  const votersAfter = votersAfterChange(change, byId, votersBefore);
  const faultToleranceBefore = faultTolerance(votersBefore);
  const faultToleranceAfter = faultTolerance(votersAfter);
  if (isMembershipChange && faultToleranceAfter < requiredFaultTolerance) {
    if (faultToleranceAfter < faultToleranceBefore) {
      add(
        'FaultToleranceTooLow',
        `${votersBefore} -> ${votersAfter} voters would lower fault tolerance from ${faultToleranceBefore} to ` +
          `${faultToleranceAfter}, below the source cluster's ${requiredFaultTolerance}`,
        target,
      );
    } else {
      warnings.push(
        `fault tolerance stays at ${faultToleranceAfter}, below the source cluster's ${requiredFaultTolerance}`,
      );
    }
  }

  const allowed = reasons.length === 0;
  const what = describeChange(change, byId);
  const summary = allowed
    ? `allowed: ${what} (voters ${votersBefore} -> ${votersAfter}, fault tolerance ${faultToleranceBefore} -> ${faultToleranceAfter})`
    : `refused: ${what}: ${reasons.map((r) => r.message).join('; ')}`;
  return {
    allowed,
    summary,
    change,
    reasons,
    warnings,
    votersBefore,
    votersAfter,
    quorumBefore: quorum(votersBefore),
    quorumAfter: quorum(votersAfter),
    faultToleranceBefore,
    faultToleranceAfter,
    requiredFaultTolerance,
    leaderId,
    learnerIds: learners.map((l) => l.id),
  };
}
