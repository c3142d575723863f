/**
 * Every failure type name of a migration, one spelling for all: the activities raise them (as
 * `ApplicationFailure` types), the workflow matches and raises them, the audit reads them back
 * from histories. Renaming one breaks recorded histories and alert rules: add, do not rename.
 */
export const FailureType = {
  // Raised by the workflow: how a run ended.
  InvalidSpec: 'InvalidSpec',
  PreflightRefused: 'PreflightRefused',
  NoSafePlan: 'NoSafePlan',
  PlanOrderError: 'PlanOrderError',
  JoinUndoFailed: 'JoinUndoFailed',
  MigrationRolledBack: 'MigrationRolledBack',
  FailedAfterSwitch: 'FailedAfterSwitch',
  /** No worker picked up preflight in time: no worker polls a task queue the spec sends it to. */
  NoWorker: 'NoWorker',

  // etcd
  EtcdUnavailable: 'EtcdUnavailable',
  MemberUnhealthy: 'MemberUnhealthy',
  MembershipDisagreement: 'MembershipDisagreement',
  MembershipChangeRejected: 'MembershipChangeRejected',
  EtcdRequestFailed: 'EtcdRequestFailed',
  QuorumAtRisk: 'QuorumAtRisk',
  TargetIsLeader: 'TargetIsLeader',
  LearnerAlreadyPresent: 'LearnerAlreadyPresent',
  MemberNotFound: 'MemberNotFound',
  MemberConflict: 'MemberConflict',
  LearnerNotCaughtUp: 'LearnerNotCaughtUp',
  LearnerUnreachable: 'LearnerUnreachable',
  DeadlineExceeded: 'DeadlineExceeded',
  PermissionDenied: 'PermissionDenied',
  TlsHandshakeFailed: 'TlsHandshakeFailed',
  InvalidRequest: 'InvalidRequest',
  SecretUnavailable: 'SecretUnavailable',

  // Kubernetes
  KubernetesUnavailable: 'KubernetesUnavailable',
  KubernetesRequestFailed: 'KubernetesRequestFailed',
  Conflict: 'Conflict',
  NotFound: 'NotFound',
  Forbidden: 'Forbidden',
  Unauthorized: 'Unauthorized',
  Invalid: 'Invalid',
  PreconditionFailed: 'PreconditionFailed',
  /** A per-cluster worker was asked to reach a cluster other than its own (ETCD_STRETCH_CLUSTER). */
  WrongCluster: 'WrongCluster',

  // The migration activities
  ConsistencyMismatch: 'ConsistencyMismatch',
  LearnerPodNotRunning: 'LearnerPodNotRunning',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Refusals about someone else's member in the cluster: not a failed join of ours, so no retry. */
export const FOREIGN_MEMBER_CONFLICTS: ReadonlySet<string> = new Set([
  FailureType.LearnerAlreadyPresent,
  FailureType.MemberConflict,
]);

/** How preflight's refusal of source pods that are not Ready begins (validate-target.ts). */
export const SOURCE_PODS_NOT_READY = 'source Pods must all be Ready before the migration';
