/**
 * The Kubernetes activities:
 *
 *   const activities = { ...createEtcdActivities({ secrets }), ...createKubernetesActivities({ kubeconfig }) };
 *
 * Each activity takes one small JSON input (the spec plus a few values) and returns a small
 * JSON result; it reads what it needs, changes only what differs (server-side apply as
 * field manager `etcd-stretch`, patches with an explicit strategy and the resourceVersion
 * read), so running it twice changes nothing the second time. Long waits heartbeat. Errors
 * are typed (see ./errors.ts): Conflict and KubernetesUnavailable are retryable; NotFound,
 * Forbidden (naming the verb and resource the worker lacks), Invalid (with the API server's
 * message), PreconditionFailed and DeadlineExceeded are not.
 *
 * The plain functions (first argument a `KubeEnv`) work outside an activity too (tests, scripts).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { withApplicationFailures } from '../errors.js';
import { resolveRunContext } from '../etcd/run-context.js';
import { kubeClientFactory, type ClientsForContext, type KubeEnv } from './clients.js';
import { discoverSource, type SourceDiscovery } from './discover-source.js';
import {
  applyDnsEntries,
  removeDnsEntries,
  type DnsEntriesInput,
  type DnsResult,
  type RemoveDnsEntriesInput,
} from './dns.js';
import {
  awaitLoadBalancers,
  deleteMemberServices,
  ensureMemberServices,
  type EnsureMemberServicesResult,
  type MemberServicesInput,
} from './member-services.js';
import {
  deleteSourcePvcs,
  deleteSourceStatefulSet,
  scaleSource,
  type DeleteSourceResult,
  type ScaleSourceResult,
} from './source-statefulset.js';
import {
  deleteHeadlessService,
  deleteTarget,
  ensureHeadlessService,
  finalizeTarget,
  scaleTarget,
  shrinkTarget,
  type FinalizeTargetResult,
  type HeadlessServiceResult,
  type ScaleTargetInput,
  type ScaleTargetResult,
  type ShrinkTargetResult,
} from './target-statefulset.js';
import {
  validateMigrationPreconditions,
  type PreconditionReport,
  type ValidateInput,
} from './validate-target.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { ClusterSide } from '../../core/planner/plan-types.js';

export interface KubernetesActivityDeps {
  /** A KubeConfig or the path of a kubeconfig file; default: KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeconfig?: KubeConfig | string;
  /** Client sets per context (overrides `kubeconfig`). */
  clients?: ClientsForContext;
  /** Receives heartbeats when not running inside a Temporal activity (tests, scripts). */
  heartbeat?: (details: unknown) => void;
  /** Operator warnings (default: stderr). */
  warn?: (message: string) => void;
}

type SpecInput = { spec: MigrationSpec };
type SideInput = SpecInput & { side: ClusterSide };

export type KubernetesActivities = {
  k8sDiscoverSource(input: SpecInput): Promise<SourceDiscovery>;
  /** Refusals and warnings, read-only in both clusters. */
  k8sValidatePreconditions(input: ValidateInput): Promise<PreconditionReport>;
  k8sEnsureHeadlessService(input: SideInput): Promise<HeadlessServiceResult>;
  k8sDeleteHeadlessService(input: SideInput): Promise<{ deleted: boolean }>;
  k8sEnsureMemberServices(input: MemberServicesInput): Promise<EnsureMemberServicesResult>;
  k8sDeleteMemberServices(input: MemberServicesInput): Promise<{ deleted: string[] }>;
  k8sAwaitLoadBalancers(
    input: MemberServicesInput & { timeoutMs?: number },
  ): Promise<{ addresses: Record<string, string> }>;
  k8sApplyDnsEntries(input: DnsEntriesInput): Promise<DnsResult>;
  k8sRemoveDnsEntries(input: RemoveDnsEntriesInput): Promise<DnsResult>;
  k8sScaleTarget(input: ScaleTargetInput): Promise<ScaleTargetResult>;
  /** Undo of k8sScaleTarget: back to `replicas` (0 deletes the StatefulSet), the stopped pods' PVCs go too. */
  k8sShrinkTarget(input: SpecInput & { replicas: number; deadlineMs?: number }): Promise<ShrinkTargetResult>;
  /** Undo of the whole target side: StatefulSet, its PVCs, its headless Service. */
  k8sDeleteTarget(
    input: SpecInput & { deadlineMs?: number },
  ): Promise<ShrinkTargetResult & { deletedService: boolean }>;
  k8sFinalizeTarget(input: SpecInput & { initialCluster: string }): Promise<FinalizeTargetResult>;
  k8sScaleSource(input: SpecInput & { replicas: number; deadlineMs?: number }): Promise<ScaleSourceResult>;
  k8sDeleteSourceStatefulSet(input: SpecInput): Promise<DeleteSourceResult>;
  k8sDeleteSourcePvcs(input: SpecInput & { members: string[] }): Promise<{ deleted: string[] }>;
};

/** The environment the plain functions take, as the activities build it per call. */
export function kubeEnv(deps: KubernetesActivityDeps = {}): () => KubeEnv {
  const clients = deps.clients ?? kubeClientFactory(deps.kubeconfig);
  const fallback = { heartbeat: deps.heartbeat ?? (() => undefined) };
  return () => ({ clients, rc: resolveRunContext(fallback), ...(deps.warn ? { warn: deps.warn } : {}) });
}

export function createKubernetesActivities(deps: KubernetesActivityDeps = {}): KubernetesActivities {
  const env = kubeEnv(deps);
  const activities: KubernetesActivities = {
    k8sDiscoverSource: (input) => discoverSource(env(), input),
    k8sValidatePreconditions: (input) => validateMigrationPreconditions(env(), input),
    k8sEnsureHeadlessService: (input) => ensureHeadlessService(env(), input),
    k8sDeleteHeadlessService: (input) => deleteHeadlessService(env(), input),
    k8sEnsureMemberServices: (input) => ensureMemberServices(env(), input),
    k8sDeleteMemberServices: (input) => deleteMemberServices(env(), input),
    k8sAwaitLoadBalancers: (input) => awaitLoadBalancers(env(), input),
    k8sApplyDnsEntries: (input) => applyDnsEntries(env(), input),
    k8sRemoveDnsEntries: (input) => removeDnsEntries(env(), input),
    k8sScaleTarget: (input) => scaleTarget(env(), input),
    k8sShrinkTarget: (input) => shrinkTarget(env(), input),
    k8sDeleteTarget: (input) => deleteTarget(env(), input),
    k8sFinalizeTarget: (input) => finalizeTarget(env(), input),
    k8sScaleSource: (input) => scaleSource(env(), input),
    k8sDeleteSourceStatefulSet: (input) => deleteSourceStatefulSet(env(), input),
    k8sDeleteSourcePvcs: (input) => deleteSourcePvcs(env(), input),
  };
  return withApplicationFailures(activities);
}

export { kubeClientFactory, kubeConfigForContext, type ClientsForContext, type KubeEnv } from './clients.js';
export { createKubernetesSecretReader, createKubernetesSecretResolver } from './secrets.js';
export type { HostEntry } from './corefile-hosts.js';
export type { PodSummary } from './pods.js';
export type {
  DeleteSourceResult,
  DnsEntriesInput,
  DnsResult,
  EnsureMemberServicesResult,
  FinalizeTargetResult,
  HeadlessServiceResult,
  MemberServicesInput,
  PreconditionReport,
  RemoveDnsEntriesInput,
  ScaleSourceResult,
  ScaleTargetInput,
  ScaleTargetResult,
  ShrinkTargetResult,
  SourceDiscovery,
  ValidateInput,
};
export {
  applyDnsEntries,
  awaitLoadBalancers,
  deleteHeadlessService,
  deleteMemberServices,
  deleteSourcePvcs,
  deleteSourceStatefulSet,
  deleteTarget,
  discoverSource,
  ensureHeadlessService,
  ensureMemberServices,
  finalizeTarget,
  removeDnsEntries,
  scaleSource,
  scaleTarget,
  shrinkTarget,
  validateMigrationPreconditions,
};
