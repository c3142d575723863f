/**
 * Membership changes: add a learner, wait for it to catch up, promote it,
 * remove a member. Each one is idempotent (it first checks whether the change
 * is already in place) and asks the safety guard before changing anything.
 */
import type { EtcdConnection } from './connection.js';
import {
  EtcdMessages,
  InvalidRequest,
  LearnerNotCaughtUp,
  MemberConflict,
  MemberNotFound,
  MembershipChangeRejected,
  EtcdUnavailable,
  messageIncludes,
  messageOf,
} from './errors.js';
import { observeAndGuard, retryTransient, voterNames } from './guarded.js';
import { awaitSteadyPeerLink } from './peer-link.js';
import {
  endpointNameOf,
  findMember,
  listMembers,
  memberStatus,
  observeCluster,
  requireMember,
} from './observe.js';
import { noopRunContext, sleep, type RunContext } from '../run-context.js';
import type {
  AddLearnerInput,
  AddLearnerResult,
  CatchUpProgress,
  ClusterObservation,
  MemberInfo,
  MemberRef,
  PeerLinkCheck,
  PromoteInput,
  PromoteResult,
  RemoveInput,
  RemoveResult,
  WaitCatchUpInput,
  WaitCatchUpResult,
} from './types.js';

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** `--initial-cluster` for a member joining `members` (an unstarted member is named `newName`). */
export function initialClusterFor(members: MemberInfo[], newMemberId: string, newName: string): string {
  return members
    .flatMap((m) => {
      const name = m.id === newMemberId ? newName : m.name;
      if (!name) {
        throw new MemberConflict(
          `member ${m.id} has no name (added but never started); cannot build --initial-cluster`,
        );
      }
      return m.peerURLs.map((u) => `${name}=${u}`);
    })
    .join(',');
}

/** An existing member that is the requested learner: same name, or unstarted with the same peer URLs. */
function existingLearner(members: MemberInfo[], name: string, peerURLs: string[]): MemberInfo | undefined {
  const match = members.find(
    (m) =>
      m.name === name ||
      (m.name === '' && sameSet(m.peerURLs, peerURLs)) ||
      m.peerURLs.some((u) => peerURLs.includes(u)),
  );
  if (!match) return undefined;
  const sameName = match.name === name || match.name === '';
  if (!sameName || !sameSet(match.peerURLs, peerURLs)) {
    throw new MemberConflict(
      `cannot add ${name} (${peerURLs.join(',')}): member ${match.name || '(unstarted)'} ${match.id} ` +
        `already has ${match.name === name ? 'that name' : 'that peer URL'} with peer URLs ${match.peerURLs.join(',')}`,
      { details: { existing: match } },
    );
  }
  return match;
}

export async function addLearner(
  conn: EtcdConnection,
  input: AddLearnerInput,
  rc: RunContext = noopRunContext,
): Promise<AddLearnerResult> {
  if (input.peerURLs.length === 0) throw new InvalidRequest('addLearner needs at least one peer URL');
  const before = await listMembers(conn);
  const present = existingLearner(before.members, input.name, input.peerURLs);
  if (present) {
    return {
      member: present,
      alreadyPresent: true,
      attempts: 0,
      etcdWaitMs: 0,
      initialCluster: initialClusterFor(before.members, present.id, input.name),
      members: before.members,
      verdict: null,
    };
  }
  const { observation, verdict } = await observeAndGuard(
    conn,
    { kind: 'add-learner', name: input.name, peerURLs: input.peerURLs },
    input.requiredFaultTolerance,
  );
  const voters = voterNames(observation);
  const {
    value: member,
    attempts,
    refusedMs,
  } = await retryTransient(
    { deadlineMs: input.deadlineMs ?? 30_000, rc, what: `add learner ${input.name}` },
    async (n) => {
      if (n > 1) {
        // A previous attempt may have been applied although its answer was lost.
        const again = existingLearner((await listMembers(conn, voters)).members, input.name, input.peerURLs);
        if (again) return again;
      }
      const res = await conn.anyOf(voters, { operation: `member add ${input.name}` }, (c, o) =>
        c.cluster.memberAdd({ peerURLs: input.peerURLs, isLearner: true }, o),
      );
      return {
        id: res.value.member.ID,
        name: res.value.member.name,
        peerURLs: [...res.value.member.peerURLs],
        clientURLs: [...res.value.member.clientURLs],
        isLearner: Boolean(res.value.member.isLearner),
      };
    },
  );
  const appliedAt = new Date().toISOString();
  // Check the add really took effect, as a learner with our peer URLs, before anyone starts the member.
  const after = await listMembers(conn, voters);
  const added = after.members.find((m) => m.id === member.id);
  if (!added || !added.isLearner || !sameSet(added.peerURLs, input.peerURLs)) {
    throw new MembershipChangeRejected(
      `member add ${input.name} answered ID ${member.id} but the member list does not show it as a learner with ` +
        `peer URLs ${input.peerURLs.join(',')}`,
      { details: { answered: member, members: after.members } },
    );
  }
  return {
    member: added,
    alreadyPresent: false,
    attempts,
    etcdWaitMs: refusedMs,
    appliedAt,
    initialCluster: initialClusterFor(after.members, added.id, input.name),
    members: after.members,
    verdict,
  };
}

/** Applied index of the leader (as the leader reports it) or, failing that, the highest among voters. */
async function leaderApplied(
  conn: EtcdConnection,
  members: MemberInfo[],
  learnerId: string,
): Promise<number> {
  const voterNamesInMap = members
    .filter(
      (m) => !m.isLearner && m.id !== learnerId && m.name && conn.access.endpoints[m.name] !== undefined,
    )
    .map((m) => m.name);
  const statuses = (
    await Promise.all(voterNamesInMap.map((n) => memberStatus(conn, n).catch(() => undefined)))
  ).filter((s) => s !== undefined);
  const leader = statuses.find((s) => s.isLeader);
  if (leader) return leader.raftAppliedIndex;
  if (statuses.length === 0)
    throw new EtcdUnavailable('no voter of the endpoint map answered a status request');
  return Math.max(...statuses.map((s) => s.raftAppliedIndex));
}

/**
 * Waits until the learner's applied index is within `maxLagEntries` of the
 * leader's, heartbeating the progress (percent) and reporting the lag
 * (`rc.learnerLag`, 0 once the wait ends). Throws LearnerNotCaughtUp
 * at the deadline (also when the learner never answers).
 */
export async function waitForLearnerCatchUp(
  conn: EtcdConnection,
  input: WaitCatchUpInput,
  rc: RunContext = noopRunContext,
): Promise<WaitCatchUpResult> {
  const lagging = new Set<string>();
  const learnerLag = (member: string, entries: number) => {
    lagging.add(member);
    rc.learnerLag?.(member, entries);
  };
  try {
    return await pollCatchUp(conn, input, { ...rc, learnerLag });
  } finally {
    for (const member of lagging) rc.learnerLag?.(member, 0);
  }
}

async function pollCatchUp(
  conn: EtcdConnection,
  input: WaitCatchUpInput,
  rc: RunContext,
): Promise<WaitCatchUpResult> {
  const started = Date.now();
  const timeoutMs = input.timeoutMs ?? 120_000;
  const maxLag = input.maxLagEntries ?? 50;
  const pollMs = input.pollMs ?? 500;
  const { members } = await listMembers(conn);
  const member = requireMember(members, input.member);
  const name = endpointNameOf(conn, member, input.member.name);
  let last: CatchUpProgress = {
    learnerApplied: 0,
    leaderApplied: 0,
    percent: 0,
    reachable: false,
    elapsedMs: 0,
  };
  let lastError = '';
  for (let polls = 1; ; polls++) {
    const [learner, leader] = await Promise.all([
      memberStatus(conn, name).catch((err: unknown) => err as Error),
      leaderApplied(conn, members, member.id).catch((err: unknown) => err as Error),
    ]);
    if (!(learner instanceof Error) && learner.id !== member.id) {
      throw new MemberConflict(
        `endpoint ${name} (${conn.endpointOf(name)}) answers as member ${learner.id}, not ${member.id}`,
      );
    }
    const elapsedMs = Date.now() - started;
    if (learner instanceof Error) lastError = `learner: ${learner.message}`;
    else if (leader instanceof Error) lastError = `leader: ${leader.message}`;
    if (!(learner instanceof Error) && !(leader instanceof Error)) {
      const percent =
        leader <= 0 ? 100 : Math.min(100, Math.floor((learner.raftAppliedIndex / leader) * 1000) / 10);
      last = {
        learnerApplied: learner.raftAppliedIndex,
        leaderApplied: leader,
        percent,
        reachable: true,
        elapsedMs,
      };
      rc.heartbeat({ member: name, ...last });
      const lag = leader - learner.raftAppliedIndex;
      rc.learnerLag?.(name, Math.max(0, lag));
      if (lag <= maxLag) {
        return {
          memberId: member.id,
          name,
          caughtUp: true,
          learnerApplied: learner.raftAppliedIndex,
          leaderApplied: leader,
          lag: Math.max(0, lag),
          tookMs: elapsedMs,
          polls,
        };
      }
    } else {
      last = { ...last, reachable: !(learner instanceof Error), elapsedMs };
      rc.heartbeat({ member: name, ...last, error: lastError.slice(0, 200) });
    }
    if (elapsedMs + pollMs > timeoutMs) {
      throw new LearnerNotCaughtUp(
        `learner ${name} (${member.id}) did not catch up within ${timeoutMs} ms: ` +
          (last.reachable
            ? `applied ${last.learnerApplied} of ${last.leaderApplied} (${last.percent}%)`
            : `its endpoint never answered (${lastError})`),
        {
          details: {
            memberId: member.id,
            name,
            timeoutMs,
            maxLagEntries: maxLag,
            last,
            lastError: lastError.slice(0, 300),
          },
        },
      );
    }
    await sleep(pollMs);
  }
}

/**
 * Promotes a learner to a voter, retrying etcd's "not in sync with leader" and
 * "unhealthy cluster" until the deadline. Already a voter: nothing to do.
 */
export async function promoteLearner(
  conn: EtcdConnection,
  input: PromoteInput,
  rc: RunContext = noopRunContext,
): Promise<PromoteResult> {
  const before = await listMembers(conn);
  const target = requireMember(before.members, input.member);
  if (!target.isLearner) {
    return {
      member: target,
      alreadyVoter: true,
      attempts: 0,
      members: before.members,
      verdict: null,
      etcdWaitMs: 0,
    };
  }
  const change = { kind: 'promote', memberId: target.id } as const;
  const first = await observeAndGuard(conn, change, input.requiredFaultTolerance);
  const voters = voterNames(first.observation, target.id);
  const peerLink = await awaitLinkFromChosenVoter(conn, first.observation, target, input, rc);
  // The wait for the voter's prober takes seconds: the guard judges the cluster as it is now.
  const { verdict } =
    (peerLink.waitedMs ?? 0) > STALE_VERDICT_MS
      ? await observeAndGuard(conn, change, input.requiredFaultTolerance)
      : first;
  let promoted = false;
  let appliedAt: string | undefined;
  let attempts = 0;
  let refusedMs = 0;
  try {
    const r = await retryTransient(
      { deadlineMs: input.deadlineMs ?? 60_000, rc, what: `promote ${target.name || target.id}` },
      async (n) => {
        if (n > 1) {
          const now = findMember((await listMembers(conn, voters)).members, { memberId: target.id });
          if (!now)
            throw new MemberNotFound(`learner ${target.id} disappeared from the member list during promote`);
          if (!now.isLearner) return;
        }
        try {
          await conn.anyOf(voters, { operation: `member promote ${target.name || target.id}` }, (c, o) =>
            c.cluster.memberPromote({ ID: target.id }, o),
          );
        } catch (err) {
          // Raced with an earlier attempt that did promote it: fine.
          if (
            messageIncludes(err, EtcdMessages.memberNotLearner) &&
            !messageIncludes(err, EtcdMessages.learnerNotReady)
          ) {
            return;
          }
          throw err;
        }
      },
    );
    attempts = r.attempts;
    refusedMs = r.refusedMs;
    appliedAt = new Date().toISOString();
    promoted = true;
  } catch (err) {
    if (err instanceof MembershipChangeRejected && messageIncludes(err, EtcdMessages.learnerNotReady)) {
      throw new LearnerNotCaughtUp(
        `learner ${target.name || target.id} is still not in sync with the leader after ${input.deadlineMs ?? 60_000} ms: ${messageOf(err)}`,
        { details: { memberId: target.id } },
      );
    }
    throw err;
  }
  const after = await listMembersOnceApplied(conn, voters, (members) =>
    members.some((m) => m.id === target.id && !m.isLearner),
  );
  const now = requireMember(after.members, { memberId: target.id });
  if (!promoted || now.isLearner) {
    throw new MembershipChangeRejected(
      `promote of ${target.id} was accepted but the member is still a learner`,
    );
  }
  return {
    member: now,
    alreadyVoter: false,
    attempts,
    members: after.members,
    verdict,
    peerLink,
    etcdWaitMs: (peerLink.waitedMs ?? 0) + refusedMs,
    ...(appliedAt ? { appliedAt } : {}),
  };
}

/**
 * Waits, without changing anything, for the proof a promote of learner `member` would wait for:
 * the chosen voter's prober has reached the learner's peer URL (PromoteInput.peerLinkFrom). A plan
 * whose promote comes later (after the leader moved and the clients switched) takes that wait
 * here, so that it does not fall inside the time when writes cross the link.
 */
export async function awaitLearnerLink(
  conn: EtcdConnection,
  input: Pick<PromoteInput, 'member' | 'peerLinkFrom' | 'peerLinkDeadlineMs'>,
  rc: RunContext = noopRunContext,
): Promise<PeerLinkCheck> {
  const observation = await observeCluster(conn);
  const target = requireMember(observation.members, input.member);
  return awaitLinkFromChosenVoter(conn, observation, target, input, rc);
}

/**
 * Waits for the proof of `target`'s link from the voter PromoteInput.peerLinkFrom chooses: the
 * leader when it accepts it, else the first voter it accepts, else the leader.
 */
function awaitLinkFromChosenVoter(
  conn: EtcdConnection,
  observation: ClusterObservation,
  target: MemberInfo,
  input: Pick<PromoteInput, 'peerLinkFrom' | 'peerLinkDeadlineMs'>,
  rc: RunContext,
): Promise<PeerLinkCheck> {
  const voters = voterNames(observation, target.id);
  const memberOf = (name: string) => {
    const id = observation.endpoints.find((e) => e.name === name)?.status?.id;
    return observation.members.find((m) => m.id === id);
  };
  const leader = voters.find((v) => memberOf(v)?.id === observation.leaderId);
  const accepts = (v: string) => {
    const m = memberOf(v);
    return !!m && (input.peerLinkFrom?.(m) ?? false);
  };
  const voter = leader && accepts(leader) ? leader : (voters.find(accepts) ?? leader ?? voters[0]!);
  return awaitSteadyPeerLink(conn, voter, target, {
    rc,
    ...(input.peerLinkDeadlineMs !== undefined ? { deadlineMs: input.peerLinkDeadlineMs } : {}),
  });
}

/** A guard verdict older than this is taken again before the change it allowed. */
const STALE_VERDICT_MS = 500;

/**
 * The member list once it shows `applied`, asking again for up to `waitMs`: the member that
 * answers may not have applied an accepted change yet (etcd 3.4 serves member lists from its
 * own state, even when asked for a linearizable one).
 */
async function listMembersOnceApplied(
  conn: EtcdConnection,
  voters: string[],
  applied: (members: MemberInfo[]) => boolean,
  waitMs = 5000,
): Promise<Awaited<ReturnType<typeof listMembers>>> {
  const started = Date.now();
  for (;;) {
    const list = await listMembers(conn, voters);
    if (applied(list.members) || Date.now() - started > waitMs) return list;
    await sleep(50);
  }
}

function refersToUnnamed(members: MemberInfo[], ref: MemberRef): boolean {
  return !('memberId' in ref) && members.some((m) => m.name === '');
}

/**
 * Removes a member. Already gone: success. The leader: refused (move the
 * leadership first). A removed member must never start again with its old
 * data dir (`dataDirMustBeWiped`). `fresh`: an observation taken just before, for the guard.
 */
export async function removeMember(
  conn: EtcdConnection,
  input: RemoveInput,
  rc: RunContext = noopRunContext,
  fresh?: ClusterObservation,
): Promise<RemoveResult> {
  const before = fresh ?? (await listMembers(conn));
  const target = findMember(before.members, input.member);
  const refName = input.member.name ?? '';
  if (!target) {
    if (refersToUnnamed(before.members, input.member)) {
      throw new InvalidRequest(
        `no member is named ${refName}, but an added-and-never-started member exists; remove it by memberId`,
        { details: { members: before.members } },
      );
    }
    return {
      memberId: 'memberId' in input.member ? input.member.memberId : null,
      name: refName,
      alreadyRemoved: true,
      attempts: 0,
      etcdWaitMs: 0,
      dataDirMustBeWiped: true,
      members: before.members,
      verdict: null,
    };
  }
  const { observation, verdict } = await observeAndGuard(
    conn,
    { kind: 'remove', memberId: target.id },
    input.requiredFaultTolerance,
    fresh,
  );
  const voters = voterNames(observation, target.id);
  const { attempts, refusedMs } = await retryTransient(
    { deadlineMs: input.deadlineMs ?? 30_000, rc, what: `remove ${target.name || target.id}` },
    async (n) => {
      if (n > 1 && !findMember((await listMembers(conn, voters)).members, { memberId: target.id })) return;
      try {
        await conn.anyOf(voters, { operation: `member remove ${target.name || target.id}` }, (c, o) =>
          c.cluster.memberRemove({ ID: target.id }, o),
        );
      } catch (err) {
        if (err instanceof MemberNotFound) return; // an earlier attempt removed it
        throw err;
      }
    },
  );
  const appliedAt = new Date().toISOString();
  const after = await listMembersOnceApplied(
    conn,
    voters,
    (members) => !findMember(members, { memberId: target.id }),
  );
  if (findMember(after.members, { memberId: target.id })) {
    throw new MembershipChangeRejected(
      `member remove ${target.id} was accepted but the member is still listed`,
    );
  }
  return {
    memberId: target.id,
    name: target.name || refName,
    alreadyRemoved: false,
    attempts,
    etcdWaitMs: refusedMs,
    appliedAt,
    dataDirMustBeWiped: true,
    members: after.members,
    verdict,
  };
}

/**
 * Compensation of `addLearner`: removes the member if it is still a learner.
 * Already gone: success. Promoted meanwhile: refused (MemberConflict), because
 * removing a voter is a different decision with its own guard (`removeMember`).
 */
export async function undoAddLearner(
  conn: EtcdConnection,
  input: RemoveInput,
  rc: RunContext = noopRunContext,
): Promise<RemoveResult> {
  const { members } = await listMembers(conn);
  const target = findMember(members, input.member);
  if (target && !target.isLearner) {
    throw new MemberConflict(
      `${target.name || target.id} is no longer a learner (it was promoted); undoing the add would remove a voter`,
      { details: { member: target } },
    );
  }
  return removeMember(conn, input, rc);
}
