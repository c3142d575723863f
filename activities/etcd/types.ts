/**
 * Serialisable inputs and results of the etcd library. Everything here may
 * appear in workflow history: references to secrets only, never key material,
 * passwords or key/value dumps. Member IDs are uint64 as decimal strings;
 * revisions, raft indexes and sizes are numbers (they stay far below 2^53).
 */
import type { GuardVerdict } from '../../core/safety-guard.js';
import type { SecretRef } from '../secret-ref.js';

/** How the worker reaches an etcd cluster. */
export interface EtcdAccess {
  /**
   * Member name -> client URL reachable from the worker (pod IP or load-balancer IP).
   * Per-member calls use exactly this map; cluster-wide calls use the voters in it.
   */
  endpoints: Record<string, string>;
  /**
   * `serverName`: the name every member's certificate is checked against instead of the URL's
   * host; `serverNames`: the same per member (a member's pod IP in the URL, its DNS name here).
   */
  tls?: {
    ca: SecretRef;
    cert?: SecretRef;
    key?: SecretRef;
    serverName?: string;
    serverNames?: Record<string, string>;
  };
  auth?: { username: SecretRef | string; password: SecretRef };
  /** Deadline of each etcd call in milliseconds (default 5000). */
  timeoutMs?: number;
}

export interface MemberInfo {
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberList {
  clusterId: string;
  /** Member that answered. */
  respondedBy: string;
  members: MemberInfo[];
}

export interface MemberStatus {
  /** Name in the endpoint map. */
  name: string;
  endpoint: string;
  /** Member ID the endpoint answered as (response header). */
  id: string;
  clusterId: string;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  leaderId: string;
  isLeader: boolean;
  isLearner: boolean;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  /** Alarm and health strings the member reports (e.g. "memberID:... alarm:NOSPACE"). */
  errors: string[];
  revision: number;
}

export interface MemberHealth {
  name: string;
  endpoint: string;
  healthy: boolean;
  /** 'linearizable-read' for voters, 'serializable-read' for learners (they cannot serve linearizable reads). */
  check: 'linearizable-read' | 'serializable-read';
  tookMs: number;
  error?: string;
}

export interface AlarmInfo {
  memberId: string;
  alarm: string;
}

/** Everything observed through one endpoint of the map. */
export interface EndpointObservation {
  name: string;
  endpoint: string;
  reachable: boolean;
  status?: MemberStatus;
  health?: MemberHealth;
  /** Member IDs as this member lists them (voters only). */
  memberIds?: string[];
  error?: string;
}

export interface ClusterObservation {
  observedAt: string;
  clusterId: string;
  members: MemberInfo[];
  endpoints: EndpointObservation[];
  leaderId: string | null;
  alarms: AlarmInfo[];
  /** Members of the list that no endpoint of the map answered as. */
  unobservedMemberIds: string[];
}

export interface RevisionResult {
  revision: number;
  respondedBy: string;
}

export interface MemberHash {
  name: string;
  id: string;
  hash: number;
  compactRevision: number;
  /** Revision the hash was computed at (same for every member). */
  revision: number;
}

export interface HashKVResult {
  revision: number;
  agree: boolean;
  hashes: MemberHash[];
  /** Names whose hash differs from the majority (or that could not be hashed). */
  mismatched: string[];
  errors: { name: string; error: string }[];
  summary: string;
}

/** Guard input the membership changes take on top of the connection. */
export interface GuardParams {
  /** Fault tolerance of the source cluster when the migration started (3 members: 1). */
  requiredFaultTolerance: number;
}

export interface AddLearnerInput extends GuardParams {
  name: string;
  peerURLs: string[];
  /** How long to keep retrying "unhealthy cluster" (default 30 s). */
  deadlineMs?: number;
}

export interface AddLearnerResult {
  member: MemberInfo;
  /** True when the learner was already there (nothing was changed). */
  alreadyPresent: boolean;
  /** member add attempts (etcd refuses with "unhealthy cluster" for ~5 s after a voter change). */
  attempts: number;
  /** How long etcd's refusals held the change back ("unhealthy cluster" until every voter has been connected 5 s: --strict-reconfig-check). */
  etcdWaitMs: number;
  /** When etcd had applied the change (its member RPC answered); absent when nothing changed. */
  appliedAt?: string;
  /** `--initial-cluster` value for starting the new member (every member plus itself). */
  initialCluster: string;
  members: MemberInfo[];
  verdict: GuardVerdict | null;
}

/**
 * Identifies a member: by ID, or by name (member name = endpoint map key).
 * A member that was added but has not started yet has no name in the member
 * list: refer to it by ID, plus its endpoint-map name where its endpoint is needed.
 */
export type MemberRef = { memberId: string; name?: string } | { name: string };

export interface WaitCatchUpInput {
  /** The learner; its client URL must be in the connection's endpoint map under its name. */
  member: MemberRef;
  /** Applied-index lag (raft entries) at which the learner counts as caught up (default 50). */
  maxLagEntries?: number;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** Poll interval (default 500 ms). */
  pollMs?: number;
}

export interface CatchUpProgress {
  learnerApplied: number;
  leaderApplied: number;
  percent: number;
  reachable: boolean;
  elapsedMs: number;
}

export interface WaitCatchUpResult {
  memberId: string;
  name: string;
  caughtUp: true;
  learnerApplied: number;
  leaderApplied: number;
  lag: number;
  tookMs: number;
  polls: number;
}

export interface PromoteInput extends GuardParams {
  member: MemberRef;
  /** Keep retrying "not in sync with leader" / "unhealthy cluster" this long (default 60 s). */
  deadlineMs?: number;
  /** Wait this long for the leader's steady peer connection to the learner (default 30 s). */
  peerLinkDeadlineMs?: number;
  /**
   * Which voters' view of the learner's peer URL proves the link: the leader when it is one of
   * them, else the first such voter, else the leader. A migration names the voters in the other
   * cluster, which reach the learner through its load balancer, not by its pod address.
   */
  peerLinkFrom?: (voter: MemberInfo) => boolean;
}

/** A voter's view of its connection to a learner (peer-link.ts). */
export interface PeerLinkCheck {
  /** False when the voter's /metrics could not be read (the check could not be made). */
  checked: boolean;
  voter: string;
  note?: string;
  /** From the first read of the voter's /metrics to the answer. */
  waitedMs?: number;
}

export interface PromoteResult {
  member: MemberInfo;
  alreadyVoter: boolean;
  attempts: number;
  members: MemberInfo[];
  verdict: GuardVerdict | null;
  /** The leader's view of its connection to the learner, checked before the promote. */
  peerLink?: PeerLinkCheck;
  /** How long the promote waited for etcd: the peer-link check, then etcd's refusals ("unhealthy cluster" until every voter has been connected 5 s: --strict-reconfig-check). */
  etcdWaitMs: number;
  /** When etcd had applied the change (its member RPC answered); absent when nothing changed. */
  appliedAt?: string;
}

export interface RemoveInput extends GuardParams {
  member: MemberRef;
  /** Keep retrying "unhealthy cluster" this long (default 30 s). */
  deadlineMs?: number;
}

export interface RemoveResult {
  memberId: string | null;
  name: string;
  alreadyRemoved: boolean;
  attempts: number;
  /** How long etcd's refusals held the change back ("unhealthy cluster" until every voter has been connected 5 s: --strict-reconfig-check). */
  etcdWaitMs: number;
  /** When etcd had applied the change (its member RPC answered); absent when nothing changed. */
  appliedAt?: string;
  /** The removed member must never start again with its old data dir. */
  dataDirMustBeWiped: boolean;
  members: MemberInfo[];
  verdict: GuardVerdict | null;
}

export interface MoveLeaderInput {
  target: MemberRef;
  /** Wait this long for every voter to see the new leader (default 15 s). */
  deadlineMs?: number;
}

export interface MoveLeaderResult {
  previousLeaderId: string;
  leaderId: string;
  leaderName: string;
  changed: boolean;
  verdict: GuardVerdict | null;
}

export interface CompactInput {
  /** Keep this many most recent revisions (default 1000). */
  keep?: number;
  /** Wait until the compaction is physically applied (default true). */
  physical?: boolean;
}

export interface CompactResult {
  revision: number;
  compactedTo: number;
  alreadyCompacted: boolean;
  verdict: GuardVerdict;
}

export interface DefragmentInput {
  /** Member name (endpoint map key). */
  name: string;
  /** Deadline of the defragment call itself (default 300 s). */
  timeoutMs?: number;
  /** Skip the defragmentation when less than this many bytes can be reclaimed (default 0: always). */
  minReclaimableBytes?: number;
}

export interface SizeSnapshot {
  dbSize: number;
  dbSizeInUse: number;
}

export interface DefragmentResult {
  name: string;
  id: string;
  skipped: boolean;
  wasLeader: boolean;
  before: SizeSnapshot;
  after: SizeSnapshot;
  tookMs: number;
  verdict: GuardVerdict | null;
}

export interface RollingDefragmentInput {
  timeoutMs?: number;
  /** Skip members with less than this many reclaimable bytes (default 0: defragment all). */
  minReclaimableBytes?: number;
  /** Disarm NOSPACE alarms after defragmenting (default true). */
  disarmAlarms?: boolean;
}

export type RollingDefragmentStep =
  | { action: 'defragment'; result: DefragmentResult }
  | { action: 'move-leader'; from: string; to: string; fromName: string; toName: string }
  | { action: 'disarm-alarm'; memberId: string; alarm: string };

export interface RollingDefragmentResult {
  leaderBefore: string;
  leaderAfter: string;
  steps: RollingDefragmentStep[];
  /** Compact order, e.g. ["defragment etcd-1", "defragment etcd-2", "move-leader etcd-0->etcd-1", ...]. */
  order: string[];
  alarmsBefore: AlarmInfo[];
  alarmsAfter: AlarmInfo[];
  totalBefore: SizeSnapshot;
  totalAfter: SizeSnapshot;
}
