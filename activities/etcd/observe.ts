/**
 * Read-only observation of an etcd cluster: member list, per-member status and
 * health, alarms, the current revision and hashKV agreement.
 */
import type { IMember } from 'etcd3';
import type { ClusterChange, GuardInput, GuardMemberObservation } from '../../core/safety-guard.js';
import { hashKVRaw, type EtcdConnection } from './connection.js';
import {
  EtcdMessages,
  EtcdRequestFailed,
  isUnavailable,
  messageIncludes,
  messageOf,
  MemberNotFound,
} from './errors.js';
import { heartbeatEvery, noopRunContext, sleep, type RunContext } from '../run-context.js';
import type {
  AlarmInfo,
  ClusterObservation,
  EndpointObservation,
  HashKVResult,
  MemberHash,
  MemberHealth,
  MemberInfo,
  MemberList,
  MemberRef,
  MemberStatus,
  RevisionResult,
} from './types.js';

/** The key read by health checks (the same one `etcdctl endpoint health` reads). */
const HEALTH_KEY = Buffer.from('health');

function toMemberInfo(m: IMember): MemberInfo {
  return {
    id: m.ID,
    name: m.name,
    peerURLs: [...m.peerURLs],
    clientURLs: [...m.clientURLs],
    isLearner: Boolean(m.isLearner),
  };
}

/** Falls over to the next endpoint when a member is unreachable or is a learner (learners cannot serve most RPCs). */
function canTryNext(err: unknown): boolean {
  return isUnavailable(err) || messageIncludes(err, EtcdMessages.notSupportedForLearner);
}

/** Tries `names` in order (voters first when known) until one answers. */
export async function viaAny<T>(
  conn: EtcdConnection,
  names: string[],
  operation: string,
  fn: (name: string) => Promise<T>,
): Promise<{ value: T; name: string }> {
  let last: unknown = new EtcdRequestFailed(`${operation}: no endpoint to call`);
  for (const name of names) {
    try {
      return { value: await fn(name), name };
    } catch (err) {
      if (!canTryNext(err)) throw err;
      last = err;
    }
  }
  throw last;
}

/** The member list as one member sees it (linearizable: it goes through the leader). */
export async function memberListVia(conn: EtcdConnection, name: string): Promise<MemberList> {
  const res = await conn.call(name, { operation: 'member list' }, (c, o) =>
    c.cluster.memberList({ linearizable: true }, o),
  );
  return { clusterId: res.header.cluster_id, respondedBy: name, members: res.members.map(toMemberInfo) };
}

/** The member list, from the first member of `preferred` (default: every endpoint) that answers. */
export async function listMembers(
  conn: EtcdConnection,
  preferred: string[] = conn.names,
): Promise<MemberList> {
  return (await viaAny(conn, preferred, 'member list', (n) => memberListVia(conn, n))).value;
}

export async function memberStatus(conn: EtcdConnection, name: string): Promise<MemberStatus> {
  const s = await conn.call(name, { operation: 'status' }, (c, o) => c.maintenance.status(o));
  return {
    name,
    endpoint: conn.endpointOf(name),
    id: s.header.member_id,
    clusterId: s.header.cluster_id,
    version: s.version,
    dbSize: Number(s.dbSize),
    dbSizeInUse: Number(s.dbSizeInUse),
    leaderId: s.leader,
    isLeader: s.leader === s.header.member_id,
    isLearner: Boolean(s.isLearner),
    raftTerm: Number(s.raftTerm),
    raftIndex: Number(s.raftIndex),
    raftAppliedIndex: Number(s.raftAppliedIndex),
    errors: [...(s.errors ?? [])],
    revision: Number(s.header.revision),
  };
}

/**
 * Health of one member: a linearizable read through it (the read needs the
 * leader's confirmation, so it proves the member is part of a working quorum).
 * Learners cannot serve linearizable reads; for them a serializable read is used.
 * "permission denied" counts as healthy (the member answered), like etcdctl.
 */
export async function memberHealth(
  conn: EtcdConnection,
  name: string,
  isLearner = false,
): Promise<MemberHealth> {
  const started = Date.now();
  const check = isLearner ? 'serializable-read' : 'linearizable-read';
  try {
    await conn.call(name, { operation: 'health read' }, (c, o) =>
      c.kv.range({ key: HEALTH_KEY, serializable: isLearner, keys_only: true }, o),
    );
    return { name, endpoint: conn.endpointOf(name), healthy: true, check, tookMs: Date.now() - started };
  } catch (err) {
    const healthy = messageIncludes(err, EtcdMessages.permissionDenied);
    return {
      name,
      endpoint: conn.endpointOf(name),
      healthy,
      check,
      tookMs: Date.now() - started,
      ...(healthy ? {} : { error: messageOf(err) }),
    };
  }
}

/** Alarms of the whole cluster (memberID 0 = all members). */
export async function listAlarms(conn: EtcdConnection, names: string[]): Promise<AlarmInfo[]> {
  const res = await viaAny(conn, names, 'alarm list', (n) =>
    conn.call(n, { operation: 'alarm list' }, (c, o) =>
      c.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' }, o),
    ),
  );
  return res.value.alarms.map((a) => ({ memberId: a.memberID, alarm: String(a.alarm).toUpperCase() }));
}

interface ObservedEndpoint {
  observation: EndpointObservation;
  /** The member list as this voter sees it (linearizable), when it answered. */
  list?: MemberList;
}

async function observeEndpoint(conn: EtcdConnection, name: string): Promise<ObservedEndpoint> {
  const endpoint = conn.endpointOf(name);
  let status: MemberStatus;
  try {
    status = await memberStatus(conn, name);
  } catch (err) {
    return { observation: { name, endpoint, reachable: false, error: messageOf(err) } };
  }
  const [health, list] = await Promise.all([
    memberHealth(conn, name, status.isLearner),
    status.isLearner
      ? Promise.resolve(undefined)
      : memberListVia(conn, name).catch((err: unknown) => new EtcdRequestFailed(messageOf(err))),
  ]);
  const obs: EndpointObservation = { name, endpoint, reachable: true, status, health };
  if (list instanceof Error) obs.error = `member list: ${list.message}`;
  else if (list) obs.memberIds = list.members.map((m) => m.id);
  if (!health.healthy) obs.error = health.error ?? 'unhealthy';
  return { observation: obs, ...(list && !(list instanceof Error) ? { list } : {}) };
}

/** `names` that answered as voters, then the rest. */
function votersFirst(names: string[], endpoints: EndpointObservation[]): string[] {
  const voters = endpoints.filter((e) => e.status && !e.status.isLearner).map((e) => e.name);
  return [...voters, ...names.filter((n) => !voters.includes(n))];
}

/**
 * Observes every endpoint of the map (status, health, member list as each voter sees it), the
 * member list and the alarms. Unreachable members are reported, not thrown; it throws only when
 * no voter answers at all.
 */
export function observeCluster(conn: EtcdConnection): Promise<ClusterObservation> {
  return observeEndpoints(conn, conn.names);
}

/** `observeCluster` through the endpoints `names` of the map only. */
export async function observeEndpoints(conn: EtcdConnection, names: string[]): Promise<ClusterObservation> {
  const observed = await Promise.all(names.map((n) => observeEndpoint(conn, n)));
  const endpoints = observed.map((o) => o.observation);
  const order = votersFirst(names, endpoints);
  // The first voter's own list is the one listMembers would read first: not read twice.
  const voterList = observed.find((o) => o.list)?.list;
  const [list, alarms] = await Promise.all([voterList ?? listMembers(conn, order), listAlarms(conn, order)]);
  const observedIds = new Set(endpoints.flatMap((e) => (e.status ? [e.status.id] : [])));
  const leaders = new Map<string, number>();
  for (const e of endpoints) {
    if (e.status && !e.status.isLearner && e.status.leaderId !== '0') {
      leaders.set(e.status.leaderId, (leaders.get(e.status.leaderId) ?? 0) + 1);
    }
  }
  const leaderId = leaders.size === 1 ? ([...leaders.keys()][0] ?? null) : null;
  return {
    observedAt: new Date().toISOString(),
    clusterId: list.clusterId,
    members: list.members,
    endpoints,
    leaderId,
    alarms,
    unobservedMemberIds: list.members.filter((m) => !observedIds.has(m.id)).map((m) => m.id),
  };
}

/** Builds the guard's input from an observation. */
export function guardInputFrom(
  obs: ClusterObservation,
  change: ClusterChange,
  requiredFaultTolerance: number,
): GuardInput {
  const observations: GuardMemberObservation[] = obs.endpoints.flatMap((e): GuardMemberObservation[] => {
    if (!e.status) return [];
    const alarms = obs.alarms
      .filter((a) => a.memberId === e.status?.id || a.memberId === '0')
      .map((a) => a.alarm);
    return [
      {
        id: e.status.id,
        reachable: true,
        healthy: e.health?.healthy ?? false,
        leaderId: e.status.leaderId,
        ...(e.memberIds ? { memberIds: e.memberIds } : {}),
        alarms,
        ...(e.error ? { error: e.error } : {}),
      },
    ];
  });
  // Members the map has an endpoint for (by name) but that did not answer: record why.
  for (const e of obs.endpoints) {
    if (e.status) continue;
    const m = obs.members.find((x) => x.name === e.name);
    if (m && !observations.some((o) => o.id === m.id)) {
      observations.push({
        id: m.id,
        reachable: false,
        healthy: false,
        alarms: [],
        error: e.error ?? 'unreachable',
      });
    }
  }
  return {
    change,
    members: obs.members.map((m) => ({
      id: m.id,
      name: m.name,
      peerURLs: m.peerURLs,
      isLearner: m.isLearner,
    })),
    observations,
    requiredFaultTolerance,
  };
}

/** Finds a member by ID or by name (a not-yet-started member has no name; it can be found by ID only). */
export function findMember(members: MemberInfo[], ref: MemberRef): MemberInfo | undefined {
  return 'memberId' in ref
    ? members.find((m) => m.id === ref.memberId)
    : members.find((m) => m.name === ref.name);
}

export function requireMember(members: MemberInfo[], ref: MemberRef): MemberInfo {
  const m = findMember(members, ref);
  if (!m) {
    const what = 'memberId' in ref ? `ID ${ref.memberId}` : `name ${ref.name}`;
    const hint =
      members.some((x) => x.name === '') && !('memberId' in ref)
        ? ' (a member that has not started yet has no name: refer to it by memberId)'
        : '';
    throw new MemberNotFound(`no member with ${what} in the member list${hint}`, {
      details: { ref, members: members.map((x) => `${x.name || '(unstarted)'}:${x.id}`) },
    });
  }
  return m;
}

/** The endpoint-map name under which `member` can be reached (its own name). */
export function endpointNameOf(conn: EtcdConnection, member: MemberInfo, fallbackName?: string): string {
  const name = member.name || fallbackName;
  if (name && conn.access.endpoints[name] !== undefined) return name;
  return conn.endpointOf(name ?? `(unnamed member ${member.id})`); // throws InvalidRequest with the known names
}

/** The current revision, read linearizably through the first voter that answers. */
export async function currentRevision(
  conn: EtcdConnection,
  preferred: string[] = conn.names,
): Promise<RevisionResult> {
  const res = await viaAny(conn, preferred, 'current revision', (n) =>
    conn.call(n, { operation: 'current revision' }, (c, o) =>
      c.kv.range({ key: HEALTH_KEY, keys_only: true, limit: 1 }, o),
    ),
  );
  return { revision: Number(res.value.header.revision), respondedBy: res.name };
}

export interface HashKVOptions {
  /** The revision to hash at; default: the current revision. Never 0 (gives false mismatches under writes). */
  revision?: number;
  /** How long a lagging member may take to reach the revision (default 10 s). */
  catchUpMs?: number;
  /** How long one member may take to hash (default 30 s; a keyspace of gigabytes takes longer). */
  callTimeoutMs?: number;
}

async function hashOne(
  conn: EtcdConnection,
  name: string,
  revision: number,
  options: HashKVOptions,
): Promise<MemberHash> {
  const until = Date.now() + (options.catchUpMs ?? 10_000);
  const timeoutMs = Math.max(conn.timeoutMs, options.callTimeoutMs ?? 30_000);
  for (;;) {
    try {
      const r = await conn.call(name, { operation: `hashKV at ${revision}`, timeoutMs }, (c, o) =>
        hashKVRaw(c, { revision }, o),
      );
      return {
        name,
        id: r.header.member_id,
        hash: Number(r.hash),
        compactRevision: Number(r.compact_revision),
        revision,
      };
    } catch (err) {
      // A follower that has not applied `revision` yet answers "future revision": wait for it.
      if (!messageIncludes(err, EtcdMessages.futureRevision) || Date.now() > until) throw err;
      await sleep(100);
    }
  }
}

/**
 * hashKV of every voter of the endpoint map at one fixed revision, and whether
 * they agree. Learners cannot serve hashKV and are left out. Heartbeats while
 * the members hash (each one reads its whole keyspace).
 */
export async function hashKV(
  conn: EtcdConnection,
  options: HashKVOptions = {},
  rc: RunContext = noopRunContext,
): Promise<HashKVResult> {
  const statuses = await Promise.all(
    conn.names.map((n) =>
      memberStatus(conn, n).then(
        (s) => s,
        (err: unknown) => ({ name: n, err }),
      ),
    ),
  );
  const voters: string[] = [];
  const errors: { name: string; error: string }[] = [];
  for (const s of statuses) {
    if ('err' in s) errors.push({ name: s.name, error: messageOf(s.err) });
    else if (!s.isLearner) voters.push(s.name);
  }
  const revision = options.revision ?? (await currentRevision(conn, voters)).revision;
  if (!Number.isInteger(revision) || revision <= 0) {
    throw new EtcdRequestFailed(`hashKV needs a revision > 0, got ${revision}`);
  }
  const started = Date.now();
  const hashing = new Set(voters);
  const progress = () => ({ hashKV: revision, hashing: [...hashing], elapsedMs: Date.now() - started });
  rc.heartbeat(progress());
  const stop = heartbeatEvery(rc, 2_000, progress);
  const results = await Promise.all(
    voters.map((n) =>
      hashOne(conn, n, revision, options)
        .then(
          (h) => h,
          (err: unknown) => ({ name: n, err }),
        )
        .finally(() => hashing.delete(n)),
    ),
  ).finally(stop);
  const hashes: MemberHash[] = [];
  for (const r of results) {
    if ('err' in r) errors.push({ name: r.name, error: messageOf(r.err) });
    else hashes.push(r);
  }
  // The majority (hash, compact revision) is the reference; everyone else mismatches.
  const counts = new Map<string, number>();
  for (const h of hashes) {
    const k = `${h.hash}/${h.compactRevision}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const reference = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const mismatched = [
    ...hashes.filter((h) => `${h.hash}/${h.compactRevision}` !== reference).map((h) => h.name),
    ...errors.map((e) => e.name),
  ];
  const agree = mismatched.length === 0 && hashes.length > 0;
  const summary = agree
    ? `hashKV at revision ${revision}: ${hashes.length} members agree (hash ${hashes[0]?.hash})`
    : `hashKV at revision ${revision}: MISMATCH on ${mismatched.join(', ')} ` +
      `(${hashes.map((h) => `${h.name}=${h.hash}@c${h.compactRevision}`).join(', ')}${
        errors.length ? `; errors: ${errors.map((e) => `${e.name}: ${e.error}`).join('; ')}` : ''
      })`;
  return { revision, agree, hashes, mismatched, errors, summary };
}
