/**
 * The etcd activities, samples-typescript style:
 *
 *   const activities = { ...createEtcdActivities({ secrets }), ...createKubernetesActivities(...) };
 *   await Worker.create({ activities, ... });
 *
 * Every activity opens its own connections and closes them (no state between
 * calls), checks idempotency first, asks the safety guard before any change,
 * heartbeats in long loops, and throws typed `ApplicationFailure`s
 * (see ./errors.ts for the types and which are retryable).
 *
 * The functions also work outside an activity (tests, scripts): heartbeats
 * then go to `deps.heartbeat` (default: dropped).
 */
import { evaluateChange, type ClusterChange, type GuardVerdict } from '../../core/safety-guard.js';
import { withApplicationFailures } from '../errors.js';
import { withConnection, type EtcdConnection } from './connection.js';
import {
  addLearner,
  promoteLearner,
  removeMember,
  undoAddLearner,
  waitForLearnerCatchUp,
} from './membership.js';
import { compact, defragment, disarmSpaceAlarms, moveLeader, type DisarmResult } from './maintenance.js';
import {
  currentRevision,
  guardInputFrom,
  hashKV,
  listMembers,
  memberHealth,
  memberStatus,
  observeCluster,
} from './observe.js';
import { rollingDefragment } from './rolling-defragment.js';
import { resolveRunContext, type RunContext } from './run-context.js';
import { createSecretResolver } from './secrets.js';
import type {
  AddLearnerInput,
  AddLearnerResult,
  ClusterObservation,
  CompactInput,
  CompactResult,
  DefragmentInput,
  DefragmentResult,
  EtcdAccess,
  HashKVResult,
  MemberHealth,
  MemberList,
  MemberStatus,
  MoveLeaderInput,
  MoveLeaderResult,
  PromoteInput,
  PromoteResult,
  RemoveInput,
  RemoveResult,
  RevisionResult,
  RollingDefragmentInput,
  RollingDefragmentResult,
  SecretResolver,
  WaitCatchUpInput,
  WaitCatchUpResult,
} from './types.js';

export interface EtcdActivityDeps {
  /** Resolves TLS/auth secret references (default: files only; Kubernetes Secrets need an injected reader). */
  secrets?: SecretResolver;
  /** Receives heartbeats when not running inside a Temporal activity (tests, scripts). */
  heartbeat?: (details: unknown) => void;
}

export interface AccessInput {
  access: EtcdAccess;
}
export interface MemberInput extends AccessInput {
  /** Member name (endpoint map key). */
  name: string;
}
export interface HashKVInput extends AccessInput {
  /** Default: the current revision (never 0). */
  revision?: number;
}
export interface EvaluateChangeInput extends AccessInput {
  change: ClusterChange;
  requiredFaultTolerance: number;
}

export type EtcdActivities = {
  etcdListMembers(input: AccessInput): Promise<MemberList>;
  etcdMemberStatus(input: MemberInput): Promise<MemberStatus>;
  etcdMemberHealth(input: MemberInput): Promise<MemberHealth>;
  etcdObserveCluster(input: AccessInput): Promise<ClusterObservation>;
  etcdCurrentRevision(input: AccessInput): Promise<RevisionResult>;
  etcdHashKV(input: HashKVInput): Promise<HashKVResult>;
  /** The guard's verdict on a change, from a fresh observation (changes nothing). */
  etcdEvaluateChange(input: EvaluateChangeInput): Promise<GuardVerdict>;
  etcdAddLearner(input: AddLearnerInput): Promise<AddLearnerResult>;
  etcdWaitForLearnerCatchUp(input: WaitCatchUpInput): Promise<WaitCatchUpResult>;
  etcdPromoteLearner(input: PromoteInput): Promise<PromoteResult>;
  etcdRemoveMember(input: RemoveInput): Promise<RemoveResult>;
  /** Compensation of etcdAddLearner: removes the member only while it is still a learner. */
  etcdUndoAddLearner(input: RemoveInput): Promise<RemoveResult>;
  etcdMoveLeader(input: MoveLeaderInput): Promise<MoveLeaderResult>;
  etcdCompact(input: CompactInput): Promise<CompactResult>;
  etcdDefragment(input: DefragmentInput): Promise<DefragmentResult>;
  etcdRollingDefragment(input: RollingDefragmentInput): Promise<RollingDefragmentResult>;
  etcdDisarmSpaceAlarms(input: AccessInput): Promise<DisarmResult>;
};

export function createEtcdActivities(deps: EtcdActivityDeps = {}): EtcdActivities {
  const secrets = deps.secrets ?? createSecretResolver();
  const fallback: RunContext = { heartbeat: deps.heartbeat ?? (() => undefined) };
  const withConn = <T>(
    access: EtcdAccess,
    fn: (conn: EtcdConnection, rc: RunContext) => Promise<T>,
  ): Promise<T> => {
    const rc = resolveRunContext(fallback);
    return withConnection(access, secrets, (conn) => fn(conn, rc));
  };

  const activities: EtcdActivities = {
    etcdListMembers: ({ access }) => withConn(access, (c) => listMembers(c)),
    etcdMemberStatus: ({ access, name }) => withConn(access, (c) => memberStatus(c, name)),
    etcdMemberHealth: ({ access, name }) =>
      withConn(access, async (c) => {
        const status = await memberStatus(c, name).catch(() => undefined);
        return memberHealth(c, name, status?.isLearner ?? false);
      }),
    etcdObserveCluster: ({ access }) => withConn(access, (c) => observeCluster(c)),
    etcdCurrentRevision: ({ access }) => withConn(access, (c) => currentRevision(c)),
    etcdHashKV: ({ access, revision }) =>
      withConn(access, (c, rc) =>
        hashKV(c, {
          ...(revision !== undefined ? { revision } : {}),
          ...(rc.signal ? { signal: rc.signal } : {}),
        }),
      ),
    etcdEvaluateChange: ({ access, change, requiredFaultTolerance }) =>
      withConn(access, async (c) =>
        evaluateChange(guardInputFrom(await observeCluster(c), change, requiredFaultTolerance)),
      ),
    etcdAddLearner: (input) => withConn(input.access, (c, rc) => addLearner(c, input, rc)),
    etcdWaitForLearnerCatchUp: (input) =>
      withConn(input.access, (c, rc) => waitForLearnerCatchUp(c, input, rc)),
    etcdPromoteLearner: (input) => withConn(input.access, (c, rc) => promoteLearner(c, input, rc)),
    etcdRemoveMember: (input) => withConn(input.access, (c, rc) => removeMember(c, input, rc)),
    etcdUndoAddLearner: (input) => withConn(input.access, (c, rc) => undoAddLearner(c, input, rc)),
    etcdMoveLeader: (input) => withConn(input.access, (c, rc) => moveLeader(c, input, rc)),
    etcdCompact: (input) => withConn(input.access, (c) => compact(c, input)),
    etcdDefragment: (input) => withConn(input.access, (c, rc) => defragment(c, input, rc)),
    etcdRollingDefragment: (input) => withConn(input.access, (c, rc) => rollingDefragment(c, input, rc)),
    etcdDisarmSpaceAlarms: ({ access }) =>
      withConn(access, async (c) => {
        const obs = await observeCluster(c);
        const voters = obs.endpoints.filter((e) => e.status && !e.status.isLearner).map((e) => e.name);
        return disarmSpaceAlarms(c, voters);
      }),
  };
  return withApplicationFailures(activities);
}

export * from './types.js';
export { createSecretResolver, describeSecretRef } from './secrets.js';
export type { DisarmResult } from './maintenance.js';
