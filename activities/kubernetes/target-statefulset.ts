/**
 * The target StatefulSet and its headless Service: create, grow one replica at a time,
 * finalize the stored configuration, and undo.
 *
 * No restart of joined members: the target uses `updateStrategy: OnDelete` (see
 * render-target.ts). Each step server-side applies the whole rendered object; the template
 * change (the next member's `--initial-cluster`) creates a new revision that only pods created
 * from now on use. `scaleTarget` proves it on every call: the pods that existed before keep
 * their UID and restart count (`previousPodsUntouched`).
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1HostAlias,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side, SourceManifests } from '../../core/activity-contract.js';
import { parseDuration } from '../../core/spec/duration.js';
import { FIELD_MANAGER, runContextOf, sideOf, type KubeEnv, type KubeSide } from './clients.js';
import { readServiceOptional, readStatefulSet, readStatefulSetOptional } from './discover-source.js';
import {
  PreconditionFailed,
  kubeCall,
  kubeDeleteIdempotent,
  opOn,
  refusalsAsPreconditions,
  retryOnConflict,
} from './errors.js';
import {
  MIGRATION_SPEC_ANNOTATION,
  SOURCE_MEMBERS_ANNOTATION,
  STATEFULSET_LABEL,
  isManagedByUs,
  ordinalOf,
} from './labels.js';
import { listStatefulSetPods, waitUntil, type PodSummary } from './pods.js';
import {
  finalEtcdContainer,
  parseInitialCluster,
  renderTargetHeadlessService,
  renderTargetStatefulSet,
  type HostEntry,
} from './render-target.js';
import { sourceObjectsOf } from './source-objects.js';
import { isOurTarget } from './validate-target.js';

/** Server-side apply of a whole object as `etcd-stretch` (force: we own what we render). */
export async function applyObject<T extends KubernetesObject>(
  side: KubeSide,
  obj: T,
  resource: string,
): Promise<T> {
  return kubeCall(opOn(side, 'patch', resource, obj.metadata?.name), () =>
    side.clients.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
  );
}

/**
 * Did an apply change what we declare (labels, annotations, spec)? Status writes by
 * controllers (load-balancer ingress, ready replicas) bump the resourceVersion too, so that
 * is not the measure.
 */
export function declaredStateChanged(
  before: (KubernetesObject & { spec?: unknown }) | undefined,
  after: KubernetesObject & { spec?: unknown },
): boolean {
  if (!before) return true;
  const pick = (o: KubernetesObject & { spec?: unknown }) =>
    JSON.stringify({
      labels: o.metadata?.labels ?? {},
      annotations: o.metadata?.annotations ?? {},
      spec: o.spec ?? null,
    });
  return pick(before) !== pick(after);
}

export function stepDeadlineMs(spec: MigrationSpec, override?: number): number {
  return override ?? parseDuration(spec.deadlines.step) ?? 600_000;
}

async function readOurTarget(side: KubeSide, spec: MigrationSpec): Promise<V1StatefulSet | undefined> {
  const sts = await readStatefulSetOptional(side, spec.target.statefulSet);
  if (sts && !isOurTarget(sts, spec)) {
    throw new PreconditionFailed(
      `StatefulSet ${side.namespace}/${spec.target.statefulSet} in context ${side.context} was not created by this migration (label/annotation etcd-stretch.io missing or from another source): refusing to touch it`,
      { details: { statefulSet: spec.target.statefulSet } },
    );
  }
  return sts;
}

// ---------------------------------------------------------------------------------------------
// Headless Service

export interface HeadlessServiceResult {
  service: string;
  created: boolean;
  changed: boolean;
}

/** Creates (or re-applies) the target's headless Service. Side `source` only checks that the source's exists. */
export async function ensureHeadlessService(
  env: KubeEnv,
  input: { spec: MigrationSpec; side?: Side; sourceManifests?: SourceManifests },
): Promise<HeadlessServiceResult> {
  const { spec } = input;
  if ((input.side ?? 'target') === 'source') {
    const source = sideOf(env, spec, 'source');
    await kubeCall(opOn(source, 'get', 'services', spec.source.service), () =>
      source.clients.core.readNamespacedService({ name: spec.source.service, namespace: source.namespace }),
    );
    return { service: spec.source.service, created: false, changed: false };
  }
  const target = sideOf(env, spec, 'target');
  const existing = await readServiceOptional(target, spec.target.service);
  if (existing && !isManagedByUs(existing.metadata)) {
    throw new PreconditionFailed(
      `Service ${target.namespace}/${spec.target.service} in context ${target.context} exists and was not created by etcd-stretch`,
    );
  }
  const sourceService = await sourceObjectsOf(env, spec, input.sourceManifests).service();
  const applied = await applyObject(target, renderTargetHeadlessService(sourceService, spec), 'services');
  return {
    service: spec.target.service,
    created: !existing,
    changed: declaredStateChanged(existing, applied),
  };
}

/** Undo of ensureHeadlessService (target only; the source's headless Service goes at cleanup). */
export async function deleteHeadlessService(
  env: KubeEnv,
  input: { spec: MigrationSpec; side?: Side },
): Promise<{ deleted: boolean }> {
  const { spec } = input;
  if ((input.side ?? 'target') === 'source') {
    throw new PreconditionFailed(
      "the source's headless Service is not the migration's to delete outside cleanup (deleteSourceStatefulSet)",
    );
  }
  const target = sideOf(env, spec, 'target');
  const existing = await readServiceOptional(target, spec.target.service);
  if (!existing) return { deleted: false };
  if (!isManagedByUs(existing.metadata)) {
    throw new PreconditionFailed(
      `Service ${target.namespace}/${spec.target.service} was not created by etcd-stretch`,
    );
  }
  const deleted = await kubeDeleteIdempotent(opOn(target, 'delete', 'services', spec.target.service), () =>
    target.clients.core.deleteNamespacedService({ name: spec.target.service, namespace: target.namespace }),
  );
  return { deleted };
}

// ---------------------------------------------------------------------------------------------
// Scale up

export interface ScaleTargetInput {
  spec: MigrationSpec;
  /** Absolute replica count: the current count (re-run) or one more. */
  replicas: number;
  /** `--initial-cluster` of the newest ordinal: every current member plus itself. */
  initialCluster: string;
  /** hostAliases of the new pods; omitted: keep the StatefulSet's current ones. */
  hostAliases?: HostEntry[];
  /** Wait this long for the new pod to start (default: spec.deadlines.step). */
  deadlineMs?: number;
  /** The source objects to render from (per-cluster); absent: read from the source cluster. */
  sourceManifests?: SourceManifests;
}

export interface ScaleTargetResult {
  statefulSet: string;
  replicas: number;
  created: boolean;
  /** The StatefulSet changed (false: a re-run with the same input). */
  changed: boolean;
  /** The member (pod) the newest ordinal runs. */
  member: string;
  pod: PodSummary;
  updateRevision: string | null;
  pods: PodSummary[];
  /** Every pod that existed before kept its UID and restart count. */
  previousPodsUntouched: boolean;
  restartedPods: string[];
  notes: string[];
}

function hostEntriesOf(aliases: V1HostAlias[] | undefined): HostEntry[] {
  return (aliases ?? [])
    .filter((a) => a.ip && a.hostnames?.length)
    .map((a) => ({ ip: a.ip, hostnames: [...(a.hostnames ?? [])] }));
}

export async function scaleTarget(env: KubeEnv, input: ScaleTargetInput): Promise<ScaleTargetResult> {
  return refusalsAsPreconditions(async () => {
    const { spec, replicas } = input;
    const rc = runContextOf(env);
    const target = sideOf(env, spec, 'target');
    const name = spec.target.statefulSet;
    const current = await readOurTarget(target, spec);
    const currentReplicas = current?.spec?.replicas ?? 0;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new PreconditionFailed(`scaleTarget: replicas must be a positive integer, got ${replicas}`);
    }
    if (replicas > currentReplicas + 1) {
      throw new PreconditionFailed(
        `scaleTarget: ${name} has ${currentReplicas} replicas; new members start one at a time (asked for ${replicas})`,
        { details: { currentReplicas, replicas } },
      );
    }
    if (replicas < currentReplicas) {
      throw new PreconditionFailed(
        `scaleTarget: ${name} has ${currentReplicas} replicas; scaling down to ${replicas} is shrinkTarget's job`,
        { details: { currentReplicas, replicas } },
      );
    }
    const sourceSts = await sourceObjectsOf(env, spec, input.sourceManifests).statefulSet();
    const hostAliases = input.hostAliases ?? hostEntriesOf(current?.spec?.template?.spec?.hostAliases);
    const rendered = renderTargetStatefulSet(sourceSts, spec, {
      replicas,
      initialCluster: input.initialCluster,
      hostAliases,
    });
    const meta = (rendered.statefulSet.metadata ??= {});
    meta.annotations = {
      ...meta.annotations,
      [SOURCE_MEMBERS_ANNOTATION]:
        current?.metadata?.annotations?.[SOURCE_MEMBERS_ANNOTATION] ??
        sourceMembersOf(spec, input.initialCluster),
      [MIGRATION_SPEC_ANNOTATION]:
        current?.metadata?.annotations?.[MIGRATION_SPEC_ANNOTATION] ?? JSON.stringify(spec),
    };
    const before = await listStatefulSetPods(target, name);
    const applied = await applyObject(target, rendered.statefulSet, 'statefulsets.apps');
    const member = `${name}-${replicas - 1}`;
    const deadline = stepDeadlineMs(spec, input.deadlineMs);
    let last: PodSummary | undefined;
    const pod = await waitUntil(
      rc,
      `pod ${member} of ${target.context}/${target.namespace} to start`,
      deadline,
      async () => {
        const pods = await listStatefulSetPods(target, name);
        last = pods.find((p) => p.name === member);
        return last && !last.terminating && last.started && last.ip ? last : undefined;
      },
      {
        progress: () => ({ member, phase: last?.phase ?? 'absent', started: last?.started ?? false }),
        wakeOn: { side: target, kind: 'pods' },
      },
    );
    const after = await listStatefulSetPods(target, name);
    const restartedPods = before
      .filter((b) => b.name !== member)
      .filter((b) => {
        const now = after.find((a) => a.name === b.name);
        return !now || now.uid !== b.uid || now.restartCount !== b.restartCount;
      })
      .map((b) => b.name);
    const fresh = await readStatefulSet(target, name);
    return {
      statefulSet: name,
      replicas,
      created: !current,
      changed: declaredStateChanged(current, applied),
      member,
      pod,
      updateRevision: fresh.status?.updateRevision ?? null,
      pods: after,
      previousPodsUntouched: restartedPods.length === 0,
      restartedPods,
      notes: rendered.notes,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Scale down / delete (undo)

export interface ShrinkTargetResult {
  replicas: number;
  stoppedPods: string[];
  deletedPvcs: string[];
  deletedStatefulSet: boolean;
}

async function deleteTargetPvcs(side: KubeSide, spec: MigrationSpec, fromOrdinal: number): Promise<string[]> {
  const name = spec.target.statefulSet;
  const list = await kubeCall(opOn(side, 'list', 'persistentvolumeclaims'), () =>
    side.clients.core.listNamespacedPersistentVolumeClaim({
      namespace: side.namespace,
      labelSelector: `${STATEFULSET_LABEL}=${name}`,
    }),
  );
  const deleted: string[] = [];
  for (const pvc of list.items) {
    const pvcName = pvc.metadata?.name ?? '';
    const m = new RegExp(`-${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(0|[1-9]\\d*)$`).exec(pvcName);
    if (!m || Number(m[1]) < fromOrdinal || pvc.metadata?.deletionTimestamp) continue;
    if (
      await kubeDeleteIdempotent(opOn(side, 'delete', 'persistentvolumeclaims', pvcName), () =>
        side.clients.core.deleteNamespacedPersistentVolumeClaim({ name: pvcName, namespace: side.namespace }),
      )
    ) {
      deleted.push(pvcName);
    }
  }
  return deleted.sort();
}

/**
 * Undo of scaleTarget: back to `replicas` (0 deletes the StatefulSet). The stopped pods'
 * PVCs are deleted: they hold the data dir of removed learners, which must never start again.
 * Call it after the member was removed from etcd.
 */
export async function shrinkTarget(
  env: KubeEnv,
  input: { spec: MigrationSpec; replicas: number; deadlineMs?: number },
): Promise<ShrinkTargetResult> {
  const { spec, replicas } = input;
  const rc = runContextOf(env);
  const target = sideOf(env, spec, 'target');
  const name = spec.target.statefulSet;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new PreconditionFailed(`shrinkTarget: replicas must be >= 0, got ${replicas}`);
  }
  const current = await readOurTarget(target, spec);
  const currentReplicas = current?.spec?.replicas ?? 0;
  if (current && replicas > currentReplicas) {
    throw new PreconditionFailed(
      `shrinkTarget: ${name} has ${currentReplicas} replicas, cannot shrink to ${replicas}`,
    );
  }
  const before = await listStatefulSetPods(target, name);
  let deletedStatefulSet = false;
  if (current && replicas === 0) {
    deletedStatefulSet = await kubeDeleteIdempotent(opOn(target, 'delete', 'statefulsets.apps', name), () =>
      target.clients.apps.deleteNamespacedStatefulSet({
        name,
        namespace: target.namespace,
        propagationPolicy: 'Background',
      }),
    );
  } else if (current && replicas < currentReplicas) {
    await kubeCall(opOn(target, 'patch', 'statefulsets.apps/scale', name), () =>
      target.clients.apps.patchNamespacedStatefulSetScale(
        { name, namespace: target.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }
  const stopping = before.filter((p) => (p.ordinal ?? 0) >= replicas).map((p) => p.name);
  await waitUntil(
    rc,
    `pods ${stopping.join(', ') || '(none)'} of ${name} to stop`,
    stepDeadlineMs(spec, input.deadlineMs),
    async () => {
      const pods = await listStatefulSetPods(target, name);
      return pods.some((p) => (p.ordinal ?? 0) >= replicas) ? undefined : true;
    },
    { wakeOn: { side: target, kind: 'pods' } },
  );
  const deletedPvcs = await deleteTargetPvcs(target, spec, replicas);
  return { replicas, stoppedPods: stopping, deletedPvcs, deletedStatefulSet };
}

/** Undo of the whole target side: the StatefulSet, its PVCs, its headless Service. */
export async function deleteTarget(
  env: KubeEnv,
  input: { spec: MigrationSpec; deadlineMs?: number },
): Promise<ShrinkTargetResult & { deletedService: boolean }> {
  const shrunk = await shrinkTarget(env, { ...input, replicas: 0 });
  const svc = await deleteHeadlessService(env, { spec: input.spec, side: 'target' });
  return { ...shrunk, deletedService: svc.deleted };
}

// ---------------------------------------------------------------------------------------------
// Finalize

export interface FinalizeTargetResult {
  changed: boolean;
  initialCluster: string;
  updateRevision: string | null;
  pods: PodSummary[];
}

/**
 * After the last old member is gone: the stored `--initial-cluster` lists only the new
 * members. A JSON patch of the etcd container's command/args/env; OnDelete: no pod restarts
 * (a running member ignores initial-cluster anyway; a pod recreated later reads the new one).
 */
export async function finalizeTarget(
  env: KubeEnv,
  input: { spec: MigrationSpec; initialCluster: string },
): Promise<FinalizeTargetResult> {
  return refusalsAsPreconditions(async () => {
    const { spec, initialCluster } = input;
    const target = sideOf(env, spec, 'target');
    const name = spec.target.statefulSet;
    const pairs = parseInitialCluster(initialCluster);
    const strangers = pairs.filter((p) => ordinalOf(name, p.name) === undefined).map((p) => p.name);
    if (strangers.length) {
      throw new PreconditionFailed(
        `finalizeTarget: the final initial-cluster must list only members of ${name}; it lists ${strangers.join(', ')}`,
      );
    }
    const changed = await retryOnConflict(async () => {
      const sts = await readOurTarget(target, spec);
      if (!sts) {
        throw new PreconditionFailed(
          `finalizeTarget: StatefulSet ${target.namespace}/${name} does not exist`,
        );
      }
      const { index, container, changed } = finalEtcdContainer(sts, initialCluster);
      if (!changed) return false;
      const old = sts.spec!.template.spec!.containers[index]!;
      const base = `/spec/template/spec/containers/${index}`;
      const ops: object[] = [
        { op: 'test', path: `${base}/name`, value: container.name },
        { op: 'replace', path: '/metadata/resourceVersion', value: sts.metadata?.resourceVersion },
      ];
      for (const field of ['command', 'args', 'env'] as const) {
        if (JSON.stringify(old[field]) !== JSON.stringify(container[field])) {
          ops.push({
            op: old[field] === undefined ? 'add' : 'replace',
            path: `${base}/${field}`,
            value: container[field],
          });
        }
      }
      await kubeCall(opOn(target, 'patch', 'statefulsets.apps', name), () =>
        target.clients.apps.patchNamespacedStatefulSet(
          { name, namespace: target.namespace, body: ops, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        ),
      );
      return true;
    });
    const fresh = await readStatefulSet(target, name);
    return {
      changed,
      initialCluster,
      updateRevision: fresh.status?.updateRevision ?? null,
      pods: await listStatefulSetPods(target, name),
    };
  });
}

/** The source members of an `--initial-cluster` (the first one lists them all), for SOURCE_MEMBERS_ANNOTATION. */
export function sourceMembersOf(spec: MigrationSpec, initialCluster: string): string {
  const members = new Map<string, string[]>();
  for (const { name, url } of parseInitialCluster(initialCluster)) {
    if (ordinalOf(spec.target.statefulSet, name) !== undefined) continue;
    members.set(name, [...(members.get(name) ?? []), url]);
  }
  return JSON.stringify([...members].map(([name, peerURLs]) => ({ name, peerURLs })));
}
