/**
 * Timeouts, retry policies and cancellation per activity group, from the spec's deadlines.
 * Typed errors the activities raise as non-retryable (Forbidden, Invalid, QuorumAtRisk, ...)
 * stop retries whatever the policy says.
 */
import {
  ActivityCancellationType,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { MigrationActivities } from '../core/activity-contract.js';
import { WAIT_FOR_IN_FLIGHT_PATCH } from './patches.js';

/** The spec's deadlines, in ms. */
export interface ActivityDeadlines {
  /** `deadlines.step`: how long any one step may take. */
  stepMs: number;
  catchUpMs: number;
  loadBalancersMs: number;
  /** `deadlines.dns`: how long a cluster's DNS may take to answer the member names. */
  dnsMs: number;
  /** `deadlines.workerPickup`: how long preflight may wait for a worker to pick it up. */
  workerPickupMs: number;
}

/**
 * An activity with a deadline of its own inside (a pod's start, a learner's catch-up) is given
 * this much longer, so that its own error, which says what it waited for, comes first.
 */
const MARGIN_MS = 60_000;

// Heartbeat timeouts let a retry start soon after a worker dies mid-activity (instead of after
// the start-to-close timeout); every activity that can take longer heartbeats while it waits.
const kubernetes = (stepMs: number, maximumAttempts = 10): ActivityOptions => ({
  startToCloseTimeout: stepMs + MARGIN_MS,
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts,
  },
});

/** Membership changes: retried (the guard re-checks health first), but not forever. */
const membership = (stepMs: number): ActivityOptions => ({
  startToCloseTimeout: stepMs + MARGIN_MS,
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
  },
});

/** Long waits with their own deadline inside: they heartbeat, and time out a little after it. */
function waiting(deadlineMs: number): ActivityOptions {
  return {
    startToCloseTimeout: deadlineMs + MARGIN_MS,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '20 seconds', maximumAttempts: 3 },
  };
}

/** observe, verifyConsistency and hashKvOnSide heartbeat while they hash (hashKV of a large keyspace is slow). */
const observation = (stepMs: number): ActivityOptions => ({
  startToCloseTimeout: stepMs + MARGIN_MS,
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/**
 * An abort cancels the step in flight. An activity that changes things may still land after
 * that (one that does not heartbeat never hears of the cancellation), so the run waits until it
 * has ended or acknowledged the cancellation before the rollback starts (patch
 * `wait-for-in-flight`). Reads and waits that change nothing are let go at once.
 */
function changing(options: ActivityOptions, waitForInFlight: boolean): ActivityOptions {
  return waitForInFlight
    ? { ...options, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
    : options;
}

/**
 * The activities with their options. `taskQueue`: the queue of the worker that runs them
 * (per-cluster mode); absent, they go to the workflow's own queue (single mode).
 * `kubernetesOnce`: the Kubernetes calls get one attempt (a cluster that did not answer an undo
 * through a whole retry policy, activity-routing.ts); `kubernetesPickupMs`: how long they wait
 * for a worker to pick them up (ScheduleToStart; never retried).
 */
export function activitiesFor(
  deadlines: ActivityDeadlines,
  taskQueue?: string,
  options: { kubernetesOnce?: boolean; kubernetesPickupMs?: number } = {},
) {
  // Decided once per set of proxies: the cancellation type is fixed when an activity is scheduled.
  const waitForInFlight = patched(WAIT_FOR_IN_FLIGHT_PATCH);
  const { stepMs } = deadlines;
  const proxy = (options: ActivityOptions) =>
    proxyActivities<MigrationActivities>(taskQueue === undefined ? options : { ...options, taskQueue });
  const k8sOptions = kubernetes(stepMs, options.kubernetesOnce ? 1 : undefined);
  if (options.kubernetesPickupMs !== undefined)
    k8sOptions.scheduleToStartTimeout = options.kubernetesPickupMs;
  const k8s = proxy(changing(k8sOptions, waitForInFlight));
  const members = proxy(changing(membership(stepMs), waitForInFlight));
  const observe = proxy(observation(stepMs));
  // Preflight is the first activity on each queue: if no worker polls it, the run fails
  // (workflows/no-worker.ts) instead of waiting. Not retried: a retry would wait on the same queue.
  const first = proxy({ ...observation(stepMs), scheduleToStartTimeout: deadlines.workerPickupMs });
  const catchUp = proxy(waiting(deadlines.catchUpMs));
  const lbs = proxy(waiting(deadlines.loadBalancersMs));
  const dnsWait = proxy(waiting(deadlines.dnsMs));
  // A rolling defragment is one step over every member: never less than the 30 minutes of before.
  const maintenance = proxy(changing(waiting(Math.max(stepMs, 30 * 60_000)), waitForInFlight));
  return {
    // Preflight hashes every source member (heartbeating): as long as any one step may take.
    preflight: first.preflight,
    observe: observe.observe,
    verifyConsistency: observe.verifyConsistency,
    hashKvOnSide: observe.hashKvOnSide,
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
    awaitDnsResolution: dnsWait.awaitDnsResolution,
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
