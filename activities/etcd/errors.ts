/**
 * Typed errors of the etcd library and the mapping from etcd3 / gRPC errors.
 *
 * Retryable (the cause is likely transient; the workflow's retry policy bounds it):
 *   EtcdUnavailable, MemberUnhealthy, MembershipDisagreement, MembershipChangeRejected, EtcdRequestFailed
 * Not retryable (retrying the same activity cannot help; the workflow or the operator must act):
 *   QuorumAtRisk, TargetIsLeader, LearnerAlreadyPresent, MemberNotFound, MemberConflict,
 *   LearnerNotCaughtUp, LearnerUnreachable (the operation already waited until its own deadline),
 *   PermissionDenied, TlsHandshakeFailed, InvalidRequest; SecretUnavailable (../secret-ref.ts)
 */
import { FailureType } from '../../core/failure-types.js';
import { defineErrorType, isTypedError, type ErrorDetails, type TypedError } from '../errors.js';
import type { GuardReasonCode, GuardVerdict } from '../../core/safety-guard.js';

export class EtcdUnavailable extends defineErrorType(FailureType.EtcdUnavailable, true) {}
export class MemberUnhealthy extends defineErrorType(FailureType.MemberUnhealthy, true) {}
export class MembershipDisagreement extends defineErrorType(FailureType.MembershipDisagreement, true) {}
export class MembershipChangeRejected extends defineErrorType(FailureType.MembershipChangeRejected, true) {}
export class EtcdRequestFailed extends defineErrorType(FailureType.EtcdRequestFailed, true) {}
export class QuorumAtRisk extends defineErrorType(FailureType.QuorumAtRisk, false) {}
export class TargetIsLeader extends defineErrorType(FailureType.TargetIsLeader, false) {}
export class LearnerAlreadyPresent extends defineErrorType(FailureType.LearnerAlreadyPresent, false) {}
export class MemberNotFound extends defineErrorType(FailureType.MemberNotFound, false) {}
export class MemberConflict extends defineErrorType(FailureType.MemberConflict, false) {}
export class LearnerNotCaughtUp extends defineErrorType(FailureType.LearnerNotCaughtUp, false) {}
export class LearnerUnreachable extends defineErrorType(FailureType.LearnerUnreachable, false) {}
export class PermissionDenied extends defineErrorType(FailureType.PermissionDenied, false) {}
export class TlsHandshakeFailed extends defineErrorType(FailureType.TlsHandshakeFailed, false) {}
export class InvalidRequest extends defineErrorType(FailureType.InvalidRequest, false) {}

/** Known etcd server error messages (etcdserver/api/v3rpc/rpctypes). */
export const EtcdMessages = {
  unhealthyCluster: 'etcdserver: unhealthy cluster',
  learnerNotReady: 'can only promote a learner member which is in sync with leader',
  notEnoughStarted: 'not enough started members',
  tooManyLearners: 'too many learner members',
  memberNotFound: 'etcdserver: member not found',
  memberNotLearner: 'can only promote a learner member',
  peerURLExists: 'Peer URLs already exists',
  notLeader: 'etcdserver: not leader',
  noLeader: 'etcdserver: no leader',
  leaderChanged: 'etcdserver: leader changed',
  requestTimedOut: 'etcdserver: request timed out',
  compacted: 'required revision has been compacted',
  futureRevision: 'required revision is a future revision',
  notSupportedForLearner: 'rpc not supported for learner',
  permissionDenied: 'permission denied',
  authFailed: 'authentication failed',
  tooManyRequests: 'etcdserver: too many requests',
  /** A member shutting down (a removed member stops its raft before its process exits). */
  raftStopped: 'raft: stopped',
  serverStopped: 'etcdserver: server stopped',
} as const;

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function messageIncludes(err: unknown, fragment: string): boolean {
  return messageOf(err).includes(fragment);
}

const TLS_HINTS = [
  'certificate',
  'SSL',
  'ssl',
  'handshake',
  'TLS',
  'self signed',
  'self-signed',
  'unable to verify',
  'Hostname/IP does not match',
  'wrong version number',
];

function tlsExplanation(msg: string): string {
  if (
    /alert bad certificate|certificate required|alert unknown ca|alert certificate|alert handshake failure/i.test(
      msg,
    )
  ) {
    return 'the server rejected the client certificate (missing, or not signed by a CA the server trusts: tls.operator)';
  }
  if (/Hostname\/IP does not match|altnames|ALTNAME/i.test(msg)) {
    return "the member's certificate does not name the member: its subjectAltName must hold <pod>.<headless-service>, the host of the member's advertised client URL (exactly, or as a wildcard *.<headless-service>)";
  }
  if (/unable to verify|self.signed|verify failed|local issuer|UNABLE_TO_VERIFY|unknown ca/i.test(msg)) {
    return "the server certificate is not signed by the CA the migration trusts (tls.operator's caKey)";
  }
  return 'check the CA, certificate and key of tls.operator, and that the member serves TLS exactly when tls.client is set';
}

export interface ErrorContext {
  /** What was being done, e.g. "member list". */
  operation: string;
  /** Member name or endpoint the call went to. */
  target?: string;
  /** Extra small facts (never secrets). */
  details?: ErrorDetails;
}

/**
 * Maps an error thrown by etcd3 / gRPC into one of the typed errors above.
 * Typed errors pass through unchanged.
 */
export function classifyEtcdError(err: unknown, ctx: ErrorContext): TypedError {
  if (isTypedError(err)) return err;
  const msg = messageOf(err);
  const where = ctx.target ? ` (${ctx.target})` : '';
  const details: ErrorDetails = {
    operation: ctx.operation,
    ...(ctx.target ? { target: ctx.target } : {}),
    ...ctx.details,
  };
  const name = err instanceof Error ? err.constructor.name : typeof err;
  const opts = { details: { ...details, cause: `${name}: ${msg}`.slice(0, 500) }, cause: err };

  if (TLS_HINTS.some((h) => msg.includes(h))) {
    return new TlsHandshakeFailed(
      `${ctx.operation}${where}: TLS handshake failed: ${tlsExplanation(msg)} (${msg})`,
      opts,
    );
  }
  if (
    name === 'EtcdAuthenticationFailedError' ||
    name === 'EtcdPermissionDeniedError' ||
    name === 'GRPCUnauthenticatedError' ||
    msg.includes(EtcdMessages.permissionDenied) ||
    msg.includes(EtcdMessages.authFailed)
  ) {
    return new PermissionDenied(`${ctx.operation}${where}: ${msg}`, opts);
  }
  if (msg.includes(EtcdMessages.memberNotFound)) {
    return new MemberNotFound(`${ctx.operation}${where}: ${msg}`, opts);
  }
  if (
    msg.includes(EtcdMessages.unhealthyCluster) ||
    msg.includes(EtcdMessages.notEnoughStarted) ||
    msg.includes(EtcdMessages.learnerNotReady)
  ) {
    return new MembershipChangeRejected(`${ctx.operation}${where}: ${msg}`, opts);
  }
  if (
    name === 'GRPCUnavailableError' ||
    name === 'GRPCDeadlineExceededError' ||
    name === 'GRPCCancelledError' ||
    name === 'BrokenCircuitError' ||
    msg.includes(EtcdMessages.noLeader) ||
    msg.includes(EtcdMessages.leaderChanged) ||
    msg.includes(EtcdMessages.requestTimedOut) ||
    msg.includes(EtcdMessages.tooManyRequests) ||
    msg.includes(EtcdMessages.raftStopped) ||
    msg.includes(EtcdMessages.serverStopped) ||
    /ECONNREFUSED|UNAVAILABLE|DEADLINE_EXCEEDED|Deadline exceeded|No connection established/.test(msg)
  ) {
    return new EtcdUnavailable(`${ctx.operation}${where}: ${msg}`, opts);
  }
  return new EtcdRequestFailed(`${ctx.operation}${where}: ${msg}`, opts);
}

/** True for errors that say "could not talk to that member" (as opposed to "it answered no"). */
export function isUnavailable(err: unknown): boolean {
  return err instanceof EtcdUnavailable;
}

const REASON_ERROR: Record<
  GuardReasonCode,
  { rank: number; make: (m: string, d: ErrorDetails) => TypedError }
> = {
  FaultToleranceTooLow: { rank: 0, make: (m, d) => new QuorumAtRisk(m, { details: d }) },
  TargetIsLeader: { rank: 1, make: (m, d) => new TargetIsLeader(m, { details: d }) },
  TargetNotFound: { rank: 2, make: (m, d) => new MemberNotFound(m, { details: d }) },
  LearnerAlreadyPresent: { rank: 3, make: (m, d) => new LearnerAlreadyPresent(m, { details: d }) },
  PeerURLInUse: { rank: 4, make: (m, d) => new MemberConflict(m, { details: d }) },
  TargetNotLearner: { rank: 5, make: (m, d) => new MemberConflict(m, { details: d }) },
  TargetIsLearner: { rank: 6, make: (m, d) => new MemberConflict(m, { details: d }) },
  VoterUnreachable: { rank: 10, make: (m, d) => new MemberUnhealthy(m, { details: d }) },
  VoterUnhealthy: { rank: 11, make: (m, d) => new MemberUnhealthy(m, { details: d }) },
  TargetUnreachable: { rank: 12, make: (m, d) => new MemberUnhealthy(m, { details: d }) },
  AlarmActive: { rank: 13, make: (m, d) => new MemberUnhealthy(m, { details: d }) },
  NoLeader: { rank: 14, make: (m, d) => new MemberUnhealthy(m, { details: d }) },
  MemberListDisagreement: { rank: 15, make: (m, d) => new MembershipDisagreement(m, { details: d }) },
};

/**
 * The error thrown when the guard refuses a change. Its type is that of the most
 * serious reason (non-retryable reasons first); the full verdict is in the details.
 */
export function guardRefusal(verdict: GuardVerdict): TypedError {
  const first = [...verdict.reasons].sort((a, b) => REASON_ERROR[a.code].rank - REASON_ERROR[b.code].rank)[0];
  if (!first) throw new Error('guardRefusal called with an allowed verdict');
  return REASON_ERROR[first.code].make(`safety guard ${verdict.summary}`, { verdict });
}
