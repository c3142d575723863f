/**
 * The activities the migration workflow calls: one per kind of plan step, plus their undos.
 * Types only (workflow code must not import activity code); `activities/migration/` implements
 * them on top of the etcd and Kubernetes libraries. Every input carries the spec, which holds
 * references only (no secrets), and every result is small: it lands in the history.
 */
import type { GuardVerdict } from './safety-guard.js';
import type { MigrationPlan, ObservedMember, Side } from './planner/plan-types.js';
import type { DnsStrategy, MigrationSpec } from './spec/schema.js';

export type { Side } from './planner/plan-types.js';

export interface SpecInput {
  spec: MigrationSpec;
  /**
   * On a forward call: the id of the plan step it runs (`PlanStep.id`, e.g.
   * `join/etcd-main-0/add-learner`, `expose/target/issue-certificates`). Cleanup-phase calls of
   * undo activities (removeDns, deleteMemberServices) are forward steps too and carry it.
   * Histories recorded before this field existed have neither it nor `undoes`.
   */
  stepId?: string;
  /**
   * On an undo call (a saga compensation, or the undo of a failed join): the id of the plan step
   * whose effect it reverses (e.g. removeLearner: `join/etcd-main-0/add-learner`). The audit pairs
   * an undo with the step it reverses by this field alone. Absent on forward calls.
   */
  undoes?: string;
  /**
   * Per-cluster workers only (absent in single mode): the load-balancer address (IP or hostname)
   * of every member known so far, by the cluster its Service is in. A worker reaches its own
   * cluster's members by pod IP and the other cluster's through these, the only path between
   * the clusters.
   */
  memberAddresses?: Record<Side, Record<string, string>>;
  /**
   * Per-cluster workers only: the source objects the target is rendered from, read by the source
   * worker in preflight (the target worker cannot read the source cluster). Configuration only:
   * preflight refuses literal secret-looking env values in the pod template.
   */
  sourceManifests?: SourceManifests;
}

/** The source StatefulSet and its headless Service, as the API returned them (JSON). */
export interface SourceManifests {
  statefulSet: Record<string, unknown>;
  service?: Record<string, unknown>;
}

/**
 * Preflight in per-cluster mode runs twice: `source` on the source worker (the source cluster and
 * etcd), then `target` on the target worker with the source part's report (the target cluster's
 * checks, the merged report and the plan). Absent: one worker checks both (single mode).
 */
export interface PreflightInput extends SpecInput {
  part?: Side;
  sourceReport?: PreflightReport;
  /**
   * Resume what an earlier run of this migration left (activities/migration/resume-preflight.ts).
   * Per-cluster mode: both parts carry it; the source part's report has `resumeSource`.
   */
  resume?: boolean;
}

/** Resume in per-cluster mode: what the source worker saw, for the target part to merge. */
export interface ResumeSourceView {
  /** spec.replicas of the source StatefulSet; null: it does not exist (any more). */
  statefulSetReplicas: number | null;
  /**
   * The etcd cluster as the source worker observed it through the source members it reaches
   * (activities/etcd/types.ts ClusterObservation); absent when none answered (`observeError`).
   */
  observation?: unknown;
  observeError?: string;
}

/** Health and consistency of the whole (possibly stretched) cluster at one moment. */
export interface Evidence {
  at: string;
  members: { name: string; id: string; isLearner: boolean; side: Side | 'unknown' }[];
  leader: string | null;
  health: Record<string, boolean>;
  /** hashKV of every voter at one fixed revision. */
  hashKv?: { revision: number; agree: boolean; hashes: Record<string, string> };
  revision: number;
}

/**
 * Per-cluster mode: one side's part of the verify-consistency evidence, read by that side's worker
 * (its members by pod IP) at one revision; the workflow combines both sides' (core/routing/side-hashes.ts).
 */
export interface SideHashKv {
  side: Side;
  revision: number;
  /** member -> hashKV at `revision`, of the voters that answered */
  hashes: Record<string, string>;
  /** member -> why it has no hash (unreachable, no pod IP, not at the revision in time) */
  errors?: Record<string, string>;
}

export interface PreflightReport {
  /** Every problem found; empty when the migration may start. Nothing was changed either way. */
  refusals: string[];
  warnings: string[];
  observed: { members: ObservedMember[] };
  sourceReplicas: number;
  evidence?: Evidence;
  /**
   * The plan, made once in the worker from these observations when nothing was refused. It lands
   * in the history with the report, so a worker with a newer planner replays a run that started
   * with an older one. Absent in histories from before (the workflow then plans as it did).
   */
  plan?: MigrationPlan;
  /** Why no safe plan could be made from these observations (instead of `plan`). */
  planError?: string;
  /** Per-cluster mode: what the target worker renders the target from (see SpecInput). */
  sourceManifests?: SourceManifests;
  /** Per-cluster resume: the source part's view (see ResumeSourceView). */
  resumeSource?: ResumeSourceView;
  /**
   * A reverse migration started before the migration that made its source finished: that
   * migration's old members still vote. The run finishes it first; the plan is of the state after.
   */
  unfinishedForward?: UnfinishedForward;
}

/** The migration that made this run's source StatefulSet, left past its client switch. */
export interface UnfinishedForward {
  /** Its spec, as recorded on the StatefulSet it created (references only). */
  spec: MigrationSpec;
  /** Its workflow ID as `etcd-stretch start` derives it (core/workflow-id.ts). */
  workflowId: string;
  /** Its old members that still vote. */
  members: string[];
}

export interface MembershipInput extends SpecInput {
  member: string;
  requiredFaultTolerance: number;
}

export interface MembershipResult {
  member: string;
  memberId: string;
  /** The guard's verdict taken right before the change (absent when nothing had to change). */
  guard?: GuardVerdict;
  /** Nothing changed: the member was already in the wanted state (idempotent re-run). */
  alreadyDone: boolean;
  /**
   * How long the change waited for etcd's own rules: its "unhealthy cluster" refusals until every
   * voter has been connected for 5 s, and before a promote the voter's first prober record of the
   * learner. Absent in results recorded before it was measured.
   */
  etcdWaitMs?: number;
  /**
   * When etcd had applied the change (its member RPC answered; the step ends later, after the
   * evidence reads). Absent when nothing changed, and in results recorded before it was kept.
   */
  appliedAt?: string;
  evidence: Evidence;
}

export interface DnsEntryInput {
  /**
   * The member's load-balancer address, as its Service reports it: an IP, or a DNS name where
   * the cloud's load balancers report a hostname (AWS). The field keeps its name so that
   * recorded histories read the same. coredns-hosts takes both (a hostname becomes
   * `rewrite name exact` lines); host-aliases and patch refuse a hostname before changing anything.
   */
  ip: string;
  hostnames: string[];
}

/** What awaitDnsResolution saw once every name resolved: name -> addresses (the last look). */
export interface DnsResolution {
  resolved: Record<string, string[]>;
  tookMs: number;
}

export type MigrationActivities = {
  preflight(input: PreflightInput): Promise<PreflightReport>;
  /** `skipHashKv`: evidence without hashKV (the workflow assembles it from hashKvOnSide readings). */
  observe(input: SpecInput & { skipHashKv?: boolean }): Promise<Evidence>;

  compact(input: SpecInput & { keepRevisions: number }): Promise<{ revision: number; compactedTo: number }>;
  rollingDefragment(
    input: SpecInput & { members: string[] },
  ): Promise<{ order: string[]; dbSizeBefore: number; dbSizeAfter: number }>;

  ensureHeadlessService(input: SpecInput & { side: Side }): Promise<{ created: boolean }>;
  deleteHeadlessService(input: SpecInput & { side: Side }): Promise<void>;
  ensureMemberServices(input: SpecInput & { side: Side; members: string[] }): Promise<{ created: string[] }>;
  deleteMemberServices(input: SpecInput & { side: Side; members: string[] }): Promise<void>;
  awaitLoadBalancers(
    input: SpecInput & { side: Side; members: string[]; timeoutMs: number },
  ): Promise<{ addresses: Record<string, string> }>;

  /**
   * Issues (or keeps) the new members' certificates from the spec's issueFrom CA Secrets; names
   * and expiry only. `addresses`: member -> load-balancer address, a SAN of its certificate (an
   * IP as an IP address, a hostname as a DNS name).
   */
  issueCertificates(input: SpecInput & { members: string[]; addresses: Record<string, string> }): Promise<{
    secrets: {
      kind: string;
      secret: string;
      issued: string[];
      kept: string[];
      notAfter: Record<string, string>;
    }[];
  }>;
  /** Undo of issueCertificates: deletes the Secrets it wrote. */
  deleteIssuedCertificates(input: SpecInput): Promise<{ deleted: string[] }>;

  configureDns(
    input: SpecInput & { side: Side; strategy: DnsStrategy; entries: DnsEntryInput[] },
  ): Promise<{ entries: number }>;
  removeDns(input: SpecInput & { side: Side; strategy: DnsStrategy; hostnames: string[] }): Promise<void>;
  /**
   * Read-only. Waits until the worker resolves every host name of `entries` (libc's resolver,
   * as a pod does) to the entry's address: the IP, or for a load balancer known by name the
   * addresses that name resolves to. Means something only on a worker that resolves through
   * `side`'s DNS (per-cluster workers); heartbeats `{ waitingFor: 'dns', pending }`.
   */
  awaitDnsResolution(
    input: SpecInput & { side: Side; entries: DnsEntryInput[]; timeoutMs: number },
  ): Promise<DnsResolution>;

  addLearner(input: MembershipInput & { peerURLs: string[] }): Promise<MembershipResult>;
  /**
   * Undo of addLearner: removes the member by ID, else by name, else by peer URL (an added
   * learner that never started has no name yet); absent: nothing to do (`alreadyDone`).
   */
  removeLearner(
    input: MembershipInput & { memberId?: string; peerURLs?: string[] },
  ): Promise<{ memberId: string | null; alreadyDone: boolean }>;
  scaleTarget(
    input: SpecInput & {
      member: string;
      replicas: number;
      initialCluster: string;
      hostAliases: DnsEntryInput[];
    },
  ): Promise<{ replicas: number; created: boolean }>;
  /** Undo of scaleTarget: back to `replicas` (0 deletes the StatefulSet); the stopped member's PVC goes too. */
  shrinkTarget(
    input: SpecInput & {
      replicas: number;
      removedMembers: string[];
      /** Keep the headless Service at 0 replicas (a failed first join that will be retried). */
      keepHeadlessService?: boolean;
    },
  ): Promise<void>;
  awaitCatchUp(
    input: SpecInput & { member: string; memberId?: string; timeoutMs: number; proveLink?: boolean },
  ): Promise<{
    appliedIndex: number;
    leaderIndex: number;
    tookMs: number;
    /** With `proveLink`: the voter whose prober reached the learner, and how long that took. */
    peerLink?: { voter: string; checked: boolean; note?: string; waitedMs?: number };
  }>;
  promote(input: MembershipInput): Promise<MembershipResult>;
  /** `withEvidence`: the result carries the evidence after the move (as `observe` gives it). */
  moveLeader(
    input: SpecInput & { to: string; withEvidence?: boolean },
  ): Promise<{ from: string | null; to: string; alreadyLeader: boolean; evidence?: Evidence }>;
  verifyConsistency(input: SpecInput & { members: string[] }): Promise<Evidence>;
  /**
   * hashKV of the voters among `members` that belong to `side`, by the worker of that side (pod
   * IPs), at `revision` (absent: the current one). Members it cannot hash are in `errors`.
   */
  hashKvOnSide(input: SpecInput & { side: Side; members: string[]; revision?: number }): Promise<SideHashKv>;
  removeMember(input: MembershipInput & { memberId?: string }): Promise<MembershipResult>;
  scaleSource(input: SpecInput & { replicas: number }): Promise<{ replicas: number }>;
  finalizeTarget(input: SpecInput & { initialCluster: string }): Promise<void>;

  cleanupSourceStatefulSet(input: SpecInput): Promise<void>;
  cleanupSourcePvcs(input: SpecInput & { members: string[] }): Promise<{ deleted: string[] }>;
};
