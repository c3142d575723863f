/**
 * Timeouts and retry policies per activity group. Typed errors the activities raise as
 * non-retryable (Forbidden, Invalid, QuorumAtRisk, ...) stop retries whatever the policy says.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MigrationActivities } from '../core/activity-contract.js';

// Heartbeat timeouts let a retry start soon after a worker dies mid-activity (instead of after
// the start-to-close timeout); every activity that can take longer heartbeats while it waits.
const kubernetes: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
};

/** Membership changes: retried (the guard re-checks health first), but not forever. */
const membership: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
  },
};

/** Long waits with their own deadline inside: they heartbeat, and time out a little after it. */
function waiting(deadline: string): ActivityOptions {
  return {
    startToCloseTimeout: deadline,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '20 seconds', maximumAttempts: 3 },
  };
}

const observation: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
};

const k8s = proxyActivities<MigrationActivities>(kubernetes);
const members = proxyActivities<MigrationActivities>(membership);
const observe = proxyActivities<MigrationActivities>(observation);

export function activitiesFor(deadlines: { catchUpMs: number; loadBalancersMs: number }) {
  const catchUp = proxyActivities<MigrationActivities>(waiting(`${deadlines.catchUpMs + 60_000} ms`));
  const lbs = proxyActivities<MigrationActivities>(waiting(`${deadlines.loadBalancersMs + 60_000} ms`));
  const maintenance = proxyActivities<MigrationActivities>(waiting('30 minutes'));
  return {
    preflight: observe.preflight,
    observe: observe.observe,
    verifyConsistency: observe.verifyConsistency,
    compact: members.compact,
    rollingDefragment: maintenance.rollingDefragment,
    ensureHeadlessService: k8s.ensureHeadlessService,
    deleteHeadlessService: k8s.deleteHeadlessService,
    ensureMemberServices: k8s.ensureMemberServices,
    deleteMemberServices: k8s.deleteMemberServices,
    awaitLoadBalancers: lbs.awaitLoadBalancers,
    issueCertificates: k8s.issueCertificates,
    deleteIssuedCertificates: k8s.deleteIssuedCertificates,
    configureDns: k8s.configureDns,
    removeDns: k8s.removeDns,
    addLearner: members.addLearner,
    removeLearner: members.removeLearner,
    scaleTarget: k8s.scaleTarget,
    shrinkTarget: k8s.shrinkTarget,
    awaitCatchUp: catchUp.awaitCatchUp,
    promote: members.promote,
    moveLeader: members.moveLeader,
    removeMember: members.removeMember,
    scaleSource: k8s.scaleSource,
    finalizeTarget: k8s.finalizeTarget,
    cleanupSourceStatefulSet: k8s.cleanupSourceStatefulSet,
    cleanupSourcePvcs: k8s.cleanupSourcePvcs,
  } satisfies MigrationActivities;
}

export type WorkflowActivities = ReturnType<typeof activitiesFor>;
