/**
 * Retiring the source StatefulSet: scale down one member at a time (the StatefulSet
 * controller stops the highest ordinal), keep the PVCs (the way back), and at cleanup delete
 * the StatefulSet and its headless Service, and the PVCs only when asked to.
 */
import { PatchStrategy, setHeaderOptions, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { FIELD_MANAGER, runContextOf, sideOf, type KubeEnv, type KubeSide } from './clients.js';
import { readServiceOptional, readStatefulSet, readStatefulSetOptional } from './discover-source.js';
import { PreconditionFailed, kubeCall, kubeDeleteIdempotent, opOn } from './errors.js';
import { FORMER_STATEFULSET_LABEL, ordinalOf } from './labels.js';
import { listStatefulSetPods, waitUntil, type PodSummary } from './pods.js';
import { stepDeadlineMs } from './target-statefulset.js';

/** The namespace's PVCs, without those already being deleted (pvc-protection may hold them a while). */
async function listPvcs(side: KubeSide, labelSelector?: string): Promise<V1PersistentVolumeClaim[]> {
  const list = await kubeCall(opOn(side, 'list', 'persistentvolumeclaims'), () =>
    side.clients.core.listNamespacedPersistentVolumeClaim({
      namespace: side.namespace,
      ...(labelSelector ? { labelSelector } : {}),
    }),
  );
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** PVC names of `pod` for the given claim template names. */
function claimNames(templates: string[], pod: string): string[] {
  return templates.map((t) => `${t}-${pod}`);
}

export interface ScaleSourceResult {
  replicas: number;
  previousReplicas: number;
  /** Pods whose stop this call began or waited for (not those already terminating before it). */
  stoppingPods: string[];
  /** The stopped members' PVCs, still there. */
  keptPvcs: string[];
}

/**
 * Scales the source StatefulSet to `replicas` (the current count, or one less) and waits until
 * the pod's stop has begun (it is terminating, or gone). Its member was removed from etcd
 * before, so the rest of its shutdown (the kubelet stopping etcd, the pod object going) holds
 * no step back.
 */
export async function scaleSource(
  env: KubeEnv,
  input: { spec: MigrationSpec; replicas: number; deadlineMs?: number },
): Promise<ScaleSourceResult> {
  const { spec, replicas } = input;
  const side = sideOf(env, spec, 'source');
  const name = spec.source.statefulSet;
  // Read at once; the checks below come before the one change. The PVCs are read now too: a
  // scale-down keeps them (checked below), so the wait for the pod need not be followed by one
  // more call.
  const [sts, before, pvcs] = await Promise.all([
    readStatefulSet(side, name),
    listStatefulSetPods(side, name),
    listPvcs(side),
  ]);
  const current = sts.spec?.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new PreconditionFailed(`scaleSource: replicas must be >= 0, got ${replicas}`);
  }
  if (replicas > current) {
    throw new PreconditionFailed(
      `scaleSource: ${name} has ${current} replicas; the migration never grows the source (asked for ${replicas})`,
    );
  }
  if (replicas < current - 1) {
    throw new PreconditionFailed(
      `scaleSource: ${name} has ${current} replicas; old members stop one at a time (asked for ${replicas})`,
    );
  }
  if ((sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain') === 'Delete') {
    throw new PreconditionFailed(
      `scaleSource: ${name} has persistentVolumeClaimRetentionPolicy.whenScaled: Delete; scaling down would delete the old PVCs`,
    );
  }
  if (replicas < current) {
    await kubeCall(opOn(side, 'patch', 'statefulsets.apps/scale', name), () =>
      side.clients.apps.patchNamespacedStatefulSetScale(
        { name, namespace: side.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }
  const running = (p: PodSummary) => (p.ordinal ?? 0) >= replicas && !p.terminating;
  const stopping = before.filter(running).map((p) => p.name);
  await waitUntil(
    runContextOf(env),
    `pods ${stopping.join(', ') || '(none)'} of ${name} to begin stopping`,
    stepDeadlineMs(spec, input.deadlineMs),
    async () => ((await listStatefulSetPods(side, name)).some(running) ? undefined : true),
    { progress: () => ({ stopping }), wakeOn: { side, kind: 'pods' } },
  );
  const templates = (sts.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '');
  const existing = new Set(pvcs.map((p) => p.metadata?.name));
  const stoppedOrdinals = Array.from({ length: current - replicas }, (_, i) => `${name}-${replicas + i}`);
  return {
    replicas,
    previousReplicas: current,
    stoppingPods: stopping,
    keptPvcs: stoppedOrdinals.flatMap((pod) => claimNames(templates, pod)).filter((n) => existing.has(n)),
  };
}

export interface DeleteSourceResult {
  deletedStatefulSet: boolean;
  deletedService: boolean;
  /** PVCs labelled `etcd-stretch.io/former-statefulset` so that deleteSourcePvcs finds them later. */
  labelledPvcs: string[];
}

/**
 * Cleanup: deletes the source StatefulSet (at 0 replicas only) and its headless Service. Its
 * PVCs stay; they are labelled with the StatefulSet's name first, so that deleteSourcePvcs
 * can still tell them from other claims once the StatefulSet (and its claim templates) is gone.
 *
 * With `persistentVolumeClaimRetentionPolicy.whenDeleted: Delete` the StatefulSet controller
 * makes the StatefulSet an owner of its PVCs, and the garbage collector would delete them with
 * it. The StatefulSet is then deleted with `propagationPolicy: Orphan`: the garbage collector
 * removes those owner references before the StatefulSet goes, and this waits until it is gone,
 * so that the PVCs are kept for good (only deleteSourcePvcs deletes them, when asked to). Its
 * ControllerRevisions are orphaned with them (the worker may not delete those).
 */
export async function deleteSourceStatefulSet(
  env: KubeEnv,
  input: { spec: MigrationSpec; deadlineMs?: number },
): Promise<DeleteSourceResult> {
  const { spec } = input;
  const side = sideOf(env, spec, 'source');
  const name = spec.source.statefulSet;
  const sts = await readStatefulSetOptional(side, name);
  const labelledPvcs: string[] = [];
  let deletedStatefulSet = false;
  if (sts) {
    const pods = await listStatefulSetPods(side, name);
    const live = pods.filter((p) => !p.terminating).map((p) => p.name);
    if ((sts.spec?.replicas ?? 1) > 0 || live.length > 0) {
      throw new PreconditionFailed(
        `refusing to delete StatefulSet ${side.namespace}/${name}: it still has ${sts.spec?.replicas ?? 1} replicas${
          live.length ? ` and pods ${live.join(', ')}` : ''
        } (scale it to 0 after removing every old member first)`,
      );
    }
    if (pods.length > 0) {
      // scaleSource returns once the last pod's stop has begun; nothing of it runs once deleted.
      await waitUntil(
        runContextOf(env),
        `pods ${pods.map((p) => p.name).join(', ')} of ${name} to finish stopping`,
        stepDeadlineMs(spec, input.deadlineMs),
        async () => ((await listStatefulSetPods(side, name)).length > 0 ? undefined : true),
        { wakeOn: { side, kind: 'pods' } },
      );
    }
    const templates = (sts.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '');
    const pvcs = (await listPvcs(side)).filter((pvc) => {
      const pvcName = pvc.metadata?.name ?? '';
      return templates.some(
        (t) => pvcName.startsWith(`${t}-`) && ordinalOf(name, pvcName.slice(t.length + 1)) !== undefined,
      );
    });
    for (const pvc of pvcs) {
      const pvcName = pvc.metadata?.name ?? '';
      if (pvc.metadata?.labels?.[FORMER_STATEFULSET_LABEL] === name) continue;
      await kubeCall(opOn(side, 'patch', 'persistentvolumeclaims', pvcName), () =>
        side.clients.core.patchNamespacedPersistentVolumeClaim(
          {
            name: pvcName,
            namespace: side.namespace,
            body: { metadata: { labels: { [FORMER_STATEFULSET_LABEL]: name } } },
            fieldManager: FIELD_MANAGER,
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
      labelledPvcs.push(pvcName);
    }
    const uid = sts.metadata?.uid;
    const owned = pvcs.some((pvc) => pvc.metadata?.ownerReferences?.some((r) => r.uid === uid));
    const orphan = owned || sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete';
    deletedStatefulSet = await kubeDeleteIdempotent(opOn(side, 'delete', 'statefulsets.apps', name), () =>
      side.clients.apps.deleteNamespacedStatefulSet({
        name,
        namespace: side.namespace,
        propagationPolicy: orphan ? 'Orphan' : 'Background',
      }),
    );
    if (orphan) {
      // Gone only once the garbage collector has taken its owner references off the PVCs.
      await waitUntil(
        runContextOf(env),
        `StatefulSet ${side.namespace}/${name} to be deleted (its PVCs orphaned)`,
        stepDeadlineMs(spec, input.deadlineMs),
        async () => ((await readStatefulSetOptional(side, name))?.metadata?.uid === uid ? undefined : true),
      );
    }
  }
  let deletedService = false;
  if (await readServiceOptional(side, spec.source.service)) {
    deletedService = await kubeDeleteIdempotent(opOn(side, 'delete', 'services', spec.source.service), () =>
      side.clients.core.deleteNamespacedService({ name: spec.source.service, namespace: side.namespace }),
    );
  }
  return { deletedStatefulSet, deletedService, labelledPvcs: labelledPvcs.sort() };
}

/** Cleanup with `cleanup.deletePVCs`: deletes the PVCs of the given old members (never of a running pod). */
export async function deleteSourcePvcs(
  env: KubeEnv,
  input: { spec: MigrationSpec; members: string[] },
): Promise<{ deleted: string[] }> {
  const { spec, members } = input;
  const side = sideOf(env, spec, 'source');
  const name = spec.source.statefulSet;
  const strangers = members.filter((m) => ordinalOf(name, m) === undefined);
  if (strangers.length) {
    throw new PreconditionFailed(
      `deleteSourcePvcs: ${strangers.join(', ')} are not pods of StatefulSet ${name}`,
    );
  }
  const running = (await listStatefulSetPods(side, name))
    .filter((p) => members.includes(p.name))
    .map((p) => p.name);
  if (running.length) {
    throw new PreconditionFailed(
      `deleteSourcePvcs: pods ${running.join(', ')} still exist; their PVCs hold live data`,
    );
  }
  const sts = await readStatefulSetOptional(side, name);
  let targets: string[];
  if (sts) {
    const templates = (sts.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '');
    const wanted = new Set(members.flatMap((m) => claimNames(templates, m)));
    targets = (await listPvcs(side)).map((p) => p.metadata?.name ?? '').filter((n) => wanted.has(n));
  } else {
    targets = (await listPvcs(side, `${FORMER_STATEFULSET_LABEL}=${name}`))
      .map((p) => p.metadata?.name ?? '')
      .filter((n) => members.some((m) => n.endsWith(`-${m}`)));
  }
  const deleted: string[] = [];
  for (const pvc of targets) {
    if (
      await kubeDeleteIdempotent(opOn(side, 'delete', 'persistentvolumeclaims', pvc), () =>
        side.clients.core.deleteNamespacedPersistentVolumeClaim({ name: pvc, namespace: side.namespace }),
      )
    ) {
      deleted.push(pvc);
    }
  }
  return { deleted: deleted.sort() };
}
