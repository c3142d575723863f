/**
 * Maintenance: move the leader, compact, defragment one member, disarm alarms.
 * Each call observes the cluster and asks the guard first; each is idempotent.
 */
import { AlarmAction, AlarmType } from 'etcd3';
import type { EtcdConnection } from './connection.js';
import { EtcdMessages, EtcdUnavailable, InvalidRequest, messageIncludes, MemberConflict } from './errors.js';
import { observeAndGuard, retryTransient, voterNames } from './guarded.js';
import {
  currentRevision,
  endpointNameOf,
  listAlarms,
  listMembers,
  memberStatus,
  requireMember,
} from './observe.js';
import { heartbeatEvery, noopRunContext, sleep, type RunContext } from '../run-context.js';
import type {
  AlarmInfo,
  CompactInput,
  CompactResult,
  DefragmentInput,
  DefragmentResult,
  MoveLeaderInput,
  MemberInfo,
  MoveLeaderResult,
} from './types.js';

/** Fault tolerance is not at stake in maintenance; the guard only checks health, leader and member-list agreement. */
const MAINTENANCE_FT = 0;

/**
 * Moves the leadership to `target` (a voter). Already leader: no-op. The
 * request goes to the current leader (etcd only accepts it there); then waits
 * until every voter of the endpoint map reports the new leader.
 */
export async function moveLeader(
  conn: EtcdConnection,
  input: MoveLeaderInput,
  rc: RunContext = noopRunContext,
): Promise<MoveLeaderResult> {
  const { members } = await listMembers(conn);
  const target = requireMember(members, input.target);
  const deadlineMs = input.deadlineMs ?? 15_000;
  const voters = members.filter((m) => !m.isLearner && m.name && conn.access.endpoints[m.name] !== undefined);
  let requested = false; // an attempt sent the request (its answer may have been lost)
  let firstLeaderId: string | undefined;
  const { value } = await retryTransient(
    { deadlineMs, rc, what: `move leader to ${target.name}` },
    async () => {
      const { observation, verdict } = await observeAndGuard(
        conn,
        { kind: 'move-leader', memberId: target.id },
        MAINTENANCE_FT,
      );
      const previousLeaderId = observation.leaderId ?? '0';
      firstLeaderId ??= previousLeaderId;
      if (previousLeaderId === target.id) {
        return { previousLeaderId, verdict, changed: requested };
      }
      const leader = requireMember(observation.members, { memberId: previousLeaderId });
      const leaderName = endpointNameOf(conn, leader);
      requested = true;
      let answered = false;
      const request = conn
        .call(
          leaderName,
          {
            operation: `move leader ${leader.name} -> ${target.name}`,
            timeoutMs: Math.max(conn.timeoutMs, 10_000),
          },
          (c, o) => c.maintenance.moveLeader({ targetID: target.id }, o),
        )
        .finally(() => (answered = true));
      request.catch(() => undefined); // raced below; left unread once every voter follows the target
      try {
        // etcd answers a move at its leader's next heartbeat tick (its MoveLeader checks the
        // leader every --heartbeat-interval: 200 ms in the article); the voters follow the new
        // leader a few ms after the move. Whichever is seen first ends the wait.
        await Promise.race([request, everyVoterFollows(conn, voters, target.id, () => answered)]);
      } catch (err) {
        // The leadership moved between observation and request: observe again.
        if (messageIncludes(err, EtcdMessages.notLeader))
          throw new EtcdUnavailable(`leader changed during move-leader`, { cause: err });
        throw err;
      }
      return { previousLeaderId, verdict, changed: true };
    },
  );
  // Every voter of the map must see the new leader.
  const until = Date.now() + deadlineMs;
  for (;;) {
    const statuses = await leadersSeenBy(conn, voters);
    if (statuses.every((s) => s?.leaderId === target.id)) break;
    if (Date.now() > until) {
      throw new EtcdUnavailable(
        `after move-leader, not every voter reports ${target.name} as leader: ` +
          statuses.map((s, i) => `${voters[i]?.name}=${s?.leaderId ?? 'unreachable'}`).join(', '),
      );
    }
    // The followers hear of the new leader with its first heartbeat, a few ms after the move.
    await sleep(25);
  }
  return {
    previousLeaderId: firstLeaderId ?? value.previousLeaderId,
    leaderId: target.id,
    leaderName: target.name,
    changed: value.changed,
    verdict: value.verdict,
  };
}

/** Each voter's status (undefined: it did not answer). */
function leadersSeenBy(conn: EtcdConnection, voters: MemberInfo[]) {
  return Promise.all(voters.map((m) => memberStatus(conn, m.name).catch(() => undefined)));
}

/** True once every one of `voters` reports `leaderId` as its leader (polled every 10 ms); false once `stop` says so. */
async function everyVoterFollows(
  conn: EtcdConnection,
  voters: MemberInfo[],
  leaderId: string,
  stop: () => boolean,
): Promise<boolean> {
  while (!stop()) {
    const statuses = await leadersSeenBy(conn, voters);
    if (statuses.length > 0 && statuses.every((s) => s?.leaderId === leaderId)) return true;
    await sleep(10);
  }
  return false;
}

/** Compacts to `revision - keep`. Already compacted that far: no-op. */
export async function compact(conn: EtcdConnection, input: CompactInput): Promise<CompactResult> {
  const keep = input.keep ?? 1000;
  if (!Number.isInteger(keep) || keep < 0)
    throw new InvalidRequest(`keep must be a non-negative integer, got ${keep}`);
  const { observation, verdict } = await observeAndGuard(
    conn,
    { kind: 'maintenance', operation: 'compact' },
    MAINTENANCE_FT,
  );
  const voters = voterNames(observation);
  const { revision } = await currentRevision(conn, voters);
  const target = revision - keep;
  if (target <= 1) return { revision, compactedTo: 0, alreadyCompacted: true, verdict };
  try {
    await conn.anyOf(
      voters,
      { operation: `compact to ${target}`, timeoutMs: Math.max(conn.timeoutMs, 60_000) },
      (c, o) => c.kv.compact({ revision: target, physical: input.physical ?? true }, o),
    );
  } catch (err) {
    if (messageIncludes(err, EtcdMessages.compacted)) {
      return { revision, compactedTo: target, alreadyCompacted: true, verdict };
    }
    throw err;
  }
  return { revision, compactedTo: target, alreadyCompacted: false, verdict };
}

/** One defragmentation at a time per cluster in this worker process ("never two members at once"). */
const defragLocks = new Map<string, Promise<unknown>>();

async function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = defragLocks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => undefined);
  defragLocks.set(key, tail);
  try {
    return await run;
  } finally {
    if (defragLocks.get(key) === tail) defragLocks.delete(key);
  }
}

/**
 * Defragments one member (it blocks that member while it runs), heartbeating.
 * Guarded: every voter must be healthy first, so the cluster keeps its quorum
 * while this member is busy.
 */
export async function defragment(
  conn: EtcdConnection,
  input: DefragmentInput,
  rc: RunContext = noopRunContext,
): Promise<DefragmentResult> {
  const name = input.name;
  conn.endpointOf(name);
  const { members } = await listMembers(conn);
  const member = requireMember(members, { name });
  if (member.isLearner) {
    throw new MemberConflict(`${name} is a learner; learners cannot be defragmented (etcd refuses the RPC)`);
  }
  const { observation, verdict } = await observeAndGuard(
    conn,
    { kind: 'maintenance', operation: 'defragment', memberId: member.id },
    MAINTENANCE_FT,
  );
  return exclusive(observation.clusterId, async () => {
    const beforeStatus = await memberStatus(conn, name);
    if (beforeStatus.id !== member.id) {
      throw new MemberConflict(`endpoint ${name} answers as member ${beforeStatus.id}, not ${member.id}`);
    }
    const before = { dbSize: beforeStatus.dbSize, dbSizeInUse: beforeStatus.dbSizeInUse };
    const base = { name, id: member.id, wasLeader: beforeStatus.isLeader, before, verdict };
    if (input.minReclaimableBytes && before.dbSize - before.dbSizeInUse < input.minReclaimableBytes) {
      return { ...base, skipped: true, after: before, tookMs: 0 };
    }
    const started = Date.now();
    rc.heartbeat({ defragment: name, elapsedMs: 0 });
    const stop = heartbeatEvery(rc, 2_000, () => ({ defragment: name, elapsedMs: Date.now() - started }));
    try {
      await conn.call(name, { operation: 'defragment', timeoutMs: input.timeoutMs ?? 300_000 }, (c, o) =>
        c.maintenance.defragment(o),
      );
    } finally {
      stop();
    }
    const tookMs = Date.now() - started;
    const afterStatus = await memberStatus(conn, name);
    return {
      ...base,
      skipped: false,
      after: { dbSize: afterStatus.dbSize, dbSizeInUse: afterStatus.dbSizeInUse },
      tookMs,
    };
  });
}

export interface DisarmResult {
  before: AlarmInfo[];
  disarmed: AlarmInfo[];
  after: AlarmInfo[];
}

/**
 * Lists the alarms and disarms the NOSPACE ones (after compaction and
 * defragmentation freed space; if the space is still short, etcd raises the
 * alarm again and `after` shows it). CORRUPT alarms are never disarmed here.
 */
export async function disarmSpaceAlarms(conn: EtcdConnection, voters: string[]): Promise<DisarmResult> {
  const before = await listAlarms(conn, voters);
  const disarmed: AlarmInfo[] = [];
  for (const a of before) {
    if (a.alarm !== 'NOSPACE') continue;
    await conn.anyOf(voters, { operation: `disarm NOSPACE of ${a.memberId}` }, (c, o) =>
      c.maintenance.alarm(
        { action: AlarmAction.Deactivate, memberID: a.memberId, alarm: AlarmType.Nospace },
        o,
      ),
    );
    disarmed.push(a);
  }
  const after = disarmed.length > 0 ? await listAlarms(conn, voters) : before;
  return { before, disarmed, after };
}
