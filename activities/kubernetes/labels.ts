/** Labels, annotations and names etcd-stretch puts on what it creates. Pure. */

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'etcd-stretch';
/** On the target StatefulSet's pods, headless Service and member Services: the StatefulSet. */
export const STATEFULSET_LABEL = 'etcd-stretch.io/statefulset';
/** On a member LoadBalancer Service: the member (pod) it exposes. */
export const MEMBER_LABEL = 'etcd-stretch.io/member';
/** On the target StatefulSet: `<context>/<namespace>/<statefulset>` it was rendered from. */
export const SOURCE_ANNOTATION = 'etcd-stretch.io/source';
/**
 * On the target StatefulSet, from its creation: the source members the migration started from
 * (JSON `[{name, peerURLs}]`, the old members of the first `--initial-cluster`). A resumed run
 * plans from them (core/planner/resume.ts) after some have left.
 */
export const SOURCE_MEMBERS_ANNOTATION = 'etcd-stretch.io/source-members';
/**
 * On the target StatefulSet, from its creation: the migration's spec (JSON, references only). A
 * reverse migration started before this one finished runs it again to finish it first
 * (activities/migration/unfinished-forward.ts).
 */
export const MIGRATION_SPEC_ANNOTATION = 'etcd-stretch.io/migration-spec';
/** On the target headless Service: the hostAliases entries of the `host-aliases` DNS strategy (JSON). */
export const HOST_ALIASES_ANNOTATION = 'etcd-stretch.io/host-aliases';
/** On the source PVCs at cleanup, before their StatefulSet goes: which StatefulSet they belonged to. */
export const FORMER_STATEFULSET_LABEL = 'etcd-stretch.io/former-statefulset';
/** The label Kubernetes puts on every StatefulSet pod. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

export function isManagedByUs(meta: { labels?: Record<string, string> } | undefined): boolean {
  return meta?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

/** Name of the LoadBalancer Service of one member pod (the rule lives with the plan's names). */
export { memberServiceName } from '../../core/planner/members.js';

/** `<name>-<ordinal>` -> ordinal, or undefined. */
export function ordinalOf(statefulSet: string, pod: string): number | undefined {
  if (!pod.startsWith(`${statefulSet}-`)) return undefined;
  const rest = pod.slice(statefulSet.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** Owner of this migration's blocks in shared DNS configuration (CoreDNS hosts block markers). */
export function dnsOwner(spec: { target: { namespace: string; statefulSet: string } }): string {
  return `${spec.target.namespace}/${spec.target.statefulSet}`;
}
