/** Types of a migration plan: plain JSON data (it is a workflow value and shown to operators). */
import type { ApprovalMode, DnsStrategy, GateName, MigrationSpec } from '../spec/schema.js';
import type { MajoritySide } from './quorum.js';

export const PHASES = [
  'preflight',
  'shrink',
  'expose',
  'dns',
  'join',
  'leader',
  'retire',
  'finalize',
  'cleanup',
] as const;
export type PhaseName = (typeof PHASES)[number];

/** The gate in front of each phase (none in front of preflight: starting the run approves it). */
export const GATE_BEFORE_PHASE: Record<Exclude<PhaseName, 'preflight'>, GateName> = {
  shrink: 'shrink',
  expose: 'expose',
  dns: 'dns',
  join: 'join',
  leader: 'leader',
  retire: 'switch-clients',
  finalize: 'finalize',
  cleanup: 'cleanup',
};

export type Side = 'source' | 'target';

/** A member as observed in the etcd member list (`etcdctl member list`). */
export interface ObservedMember {
  name: string;
  /** Member ID (hex) when known. */
  id?: string;
  peerURLs: string[];
  isLearner: boolean;
}

export interface PlanInput {
  spec: MigrationSpec;
  observed: { members: ObservedMember[] };
}

/** Names that must resolve to one member's load-balancer IP in the other cluster. */
export interface DnsEntry {
  member: string;
  hostnames: string[];
}

/** Membership after a step. Old = members of the source StatefulSet, new = of the target one. */
export interface MembershipState {
  voters: { old: string[]; new: string[] };
  learners: { old: string[]; new: string[] };
  quorum: number;
  faultTolerance: number;
  majoritySideOnPartition: MajoritySide;
}

/** What a step does; `kind` discriminates. */
export type PlanAction =
  | {
      kind: 'preflight-checks';
      /** Checks that must pass before anything changes. */
      checks: string[];
    }
  | { kind: 'compact'; keepRevisions: number }
  | {
      /** One member at a time, followers first; the leader last, after moving leadership off it. */
      kind: 'rolling-defragment';
      members: string[];
    }
  | { kind: 'create-headless-service'; cluster: Side; service: string; statefulSet: string }
  | { kind: 'create-member-services'; cluster: Side; members: string[] }
  | { kind: 'await-load-balancers'; cluster: Side; members: string[]; timeout: string }
  | {
      /** Certificates for the new members from the spec's `issueFrom` CA Secrets (SANs include their load balancers). */
      kind: 'issue-certificates';
      members: string[];
      /** The Secrets the certificates go into, one per kind. */
      secrets: { kind: 'peer' | 'client'; name: string; caSecret: string }[];
    }
  | {
      kind: 'configure-dns';
      /** The cluster whose DNS view changes. */
      cluster: Side;
      strategy: DnsStrategy;
      entries: DnsEntry[];
    }
  | { kind: 'add-learner'; member: string; peerURLs: string[] }
  | {
      /** Start the new member's pod: `--initial-cluster-state existing` with this `--initial-cluster`. */
      kind: 'scale-target';
      member: string;
      replicas: number;
      initialCluster: string;
    }
  | {
      kind: 'await-catch-up';
      member: string;
      timeout: string;
      /**
       * Also wait until a voter across the clusters has reached the learner's peer URL, the proof
       * its promote needs: set for the learner whose promote waits for phase `retire`, so that this
       * wait comes before the leader moves and not inside the time writes cross the link.
       */
      proveLink?: boolean;
    }
  | { kind: 'promote'; member: string }
  | { kind: 'move-leader'; to: string }
  | {
      kind: 'gate';
      gate: GateName;
      approval: ApprovalMode;
      /** `switch-clients` only: client URLs of the new voters at that point. */
      clientEndpoints?: string[];
    }
  | { kind: 'verify-consistency'; members: string[] }
  | {
      kind: 'remove-member';
      member: string;
      /** Member ID from the observed member list, when known. */
      memberId?: string;
    }
  | {
      /** Scale the old StatefulSet down; the removed members' pods stop (highest ordinal first). */
      kind: 'scale-source';
      replicas: number;
      stops: string[];
    }
  | { kind: 'finalize-target'; initialCluster: string }
  | { kind: 'soak'; duration: string; ms: number }
  | { kind: 'cleanup-dns'; cluster: Side; strategy: DnsStrategy; entries: DnsEntry[] }
  | { kind: 'cleanup-member-services'; cluster: Side; members: string[] }
  | { kind: 'cleanup-source-statefulset'; statefulSet: string; service: string }
  | { kind: 'cleanup-source-pvcs'; statefulSet: string; members: string[] };

export type PlanStepKind = PlanAction['kind'];

export type PlanStep = PlanAction & {
  /** Stable, unique id, e.g. `join/etcd-main-1/add-learner`. */
  id: string;
  phase: PhaseName;
  title: string;
  /** Membership once this step is done. */
  after: MembershipState;
  /** Done by an earlier run of this migration (resume, core/planner/resume.ts): not run again. */
  adopted?: true;
  /**
   * Steps next to each other with the same key run at the same time: independent steps, one or
   * more per cluster, none a membership change (their undos still run one at a time, newest
   * first in plan order).
   */
  together?: string;
};

export type StepOfKind<K extends PlanStepKind> = Extract<PlanStep, { kind: K }>;

export interface PlanMember {
  name: string;
  ordinal: number;
  peerURLs: string[];
  id?: string;
}

export interface MigrationPlan {
  /** Phases that have steps, in order. */
  phases: PhaseName[];
  steps: PlanStep[];
  warnings: string[];
  /**
   * The fault tolerance every step keeps: the source's, or the target's when the target is
   * smaller (the final cluster cannot tolerate more). Pass it to the safety guard.
   */
  requiredFaultTolerance: number;
  source: { members: PlanMember[]; faultTolerance: number };
  target: { members: PlanMember[]; faultTolerance: number; clientURLs: string[] };
}
