/**
 * What a migration needs before anything changes, checked read-only in both clusters, in two
 * halves: the source's (reads the source cluster only) and the target's (reads the target cluster
 * only, renders from the source objects it is given), so that a per-cluster worker runs its own.
 * Every problem is a refusal with a message naming the object or spec field; nothing is
 * changed either way. Authorisation and connection failures are thrown (typed), not
 * reported as refusals: they are the worker's problem, not the migration's.
 */
import type { V1PodSpec, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { SOURCE_PODS_NOT_READY } from '../../core/failure-types.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { sideOf, type KubeEnv, type KubeSide } from './clients.js';
import { readHostsEntries } from './corefile-hosts.js';
import { readServiceOptional, readStatefulSetOptional, summarizeStatefulSet } from './discover-source.js';
import { isDns1035Label } from '../../core/spec/k8s-names.js';
import { Forbidden, kubeGetOptional, opOn } from './errors.js';
import { SOURCE_ANNOTATION, dnsOwner, isManagedByUs, memberServiceName } from './labels.js';
import { listStatefulSetPods } from './pods.js';
import { booleanFlag, flagValue } from './etcd-flags.js';
import { etcdVersionOf } from './etcd-version.js';
import { SKIP_SAN_SETTINGS, skipSanFlag, tlsSecretName } from './render-tls.js';
import { RenderError, findEtcdContainer, renderTargetStatefulSet } from './render-target.js';

export type RefusalCode =
  | 'SameStatefulSetName'
  | 'SameServiceName'
  | 'SourceStatefulSetMissing'
  | 'SourceServiceMissing'
  | 'SourceServiceNotHeadless'
  | 'SourceServiceMismatch'
  | 'SourcePodNotReady'
  | 'SourcePvcRetentionDeletes'
  | 'UnsupportedEtcdConfiguration'
  | 'EtcdTooOld'
  | 'TargetNamespaceMissing'
  | 'TargetStatefulSetExists'
  | 'TargetServiceExists'
  | 'MemberServiceNameTaken'
  | 'TargetReferenceMissing'
  | 'TlsSchemeMismatch'
  | 'DnsConfigMissing';

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export interface PreconditionReport {
  ok: boolean;
  refusals: Refusal[];
  warnings: string[];
  sourceReplicas: number | null;
  /** The target objects found that belong to this run (when resuming). */
  resumable: string[];
}

export interface ValidateInput {
  spec: MigrationSpec;
  /** The run is resuming: its own target StatefulSet and Services may exist. */
  resuming?: boolean;
  /** Pods of the target that will exist (default: target.replicas or the source's replicas). */
  targetReplicas?: number;
}

export { etcdVersionOf };

/** Secrets, ConfigMaps and the ServiceAccount a pod template needs to start (non-optional ones). */
function templateReferences(
  podSpec: V1PodSpec,
): { kind: 'Secret' | 'ConfigMap' | 'ServiceAccount'; name: string }[] {
  const refs: { kind: 'Secret' | 'ConfigMap' | 'ServiceAccount'; name: string }[] = [];
  const add = (
    kind: 'Secret' | 'ConfigMap' | 'ServiceAccount',
    name: string | undefined,
    optional?: boolean,
  ) => {
    if (name && !optional && !refs.some((r) => r.kind === kind && r.name === name)) refs.push({ kind, name });
  };
  const sa = podSpec.serviceAccountName ?? podSpec.serviceAccount;
  if (sa && sa !== 'default') add('ServiceAccount', sa);
  for (const v of podSpec.volumes ?? []) {
    add('Secret', v.secret?.secretName, v.secret?.optional);
    add('ConfigMap', v.configMap?.name, v.configMap?.optional);
    for (const s of v.projected?.sources ?? []) {
      add('Secret', s.secret?.name, s.secret?.optional);
      add('ConfigMap', s.configMap?.name, s.configMap?.optional);
    }
  }
  for (const c of [...(podSpec.initContainers ?? []), ...podSpec.containers]) {
    for (const e of c.env ?? []) {
      add('Secret', e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.optional);
      add('ConfigMap', e.valueFrom?.configMapKeyRef?.name, e.valueFrom?.configMapKeyRef?.optional);
    }
    for (const e of c.envFrom ?? []) {
      add('Secret', e.secretRef?.name, e.secretRef?.optional);
      add('ConfigMap', e.configMapRef?.name, e.configMapRef?.optional);
    }
  }
  return refs;
}

/**
 * Does the object exist? `undefined` when the worker may not read it: Secrets are granted by name
 * only (deploy/rbac-target.yaml), and the check is not worth a broader grant.
 */
async function referenceExists(
  side: KubeSide,
  kind: 'Secret' | 'ConfigMap' | 'ServiceAccount',
  name: string,
): Promise<boolean | undefined> {
  try {
    return (await readReference(side, kind, name)) !== undefined;
  } catch (err) {
    if (err instanceof Forbidden) return undefined;
    throw err;
  }
}

async function readReference(side: KubeSide, kind: 'Secret' | 'ConfigMap' | 'ServiceAccount', name: string) {
  const ns = side.namespace;
  const core = side.clients.core;
  switch (kind) {
    case 'Secret':
      return kubeGetOptional(opOn(side, 'get', 'secrets', name), () =>
        core.readNamespacedSecret({ name, namespace: ns }),
      );
    case 'ConfigMap':
      return kubeGetOptional(opOn(side, 'get', 'configmaps', name), () =>
        core.readNamespacedConfigMap({ name, namespace: ns }),
      );
    case 'ServiceAccount':
      return kubeGetOptional(opOn(side, 'get', 'serviceaccounts', name), () =>
        core.readNamespacedServiceAccount({ name, namespace: ns }),
      );
  }
}

/** `<context>/<namespace>/<statefulset>` of the source, as the target StatefulSet records it. */
export function sourceRef(spec: MigrationSpec): string {
  return `${spec.source.context}/${spec.source.namespace}/${spec.source.statefulSet}`;
}

/** Is this target StatefulSet one a run of this migration created? */
export function isOurTarget(sts: V1StatefulSet, spec: MigrationSpec): boolean {
  return isManagedByUs(sts.metadata) && sts.metadata?.annotations?.[SOURCE_ANNOTATION] === sourceRef(spec);
}

/** The source half's findings, with the objects it read: the target half renders from them. */
export interface SourcePreconditionReport extends PreconditionReport {
  statefulSet?: V1StatefulSet;
  service?: V1Service;
}

/** Both halves in one process (a worker that reaches both clusters): the source's, then the target's. */
export async function validateMigrationPreconditions(
  env: KubeEnv,
  input: ValidateInput,
): Promise<PreconditionReport> {
  const source = await validateSourcePreconditions(env, input);
  const target = await validateTargetPreconditions(env, input, source);
  const refusals = [...source.refusals, ...target.refusals];
  return {
    ok: refusals.length === 0,
    refusals,
    warnings: [...source.warnings, ...target.warnings],
    sourceReplicas: source.sourceReplicas,
    resumable: target.resumable,
  };
}

function sameNamespace(spec: MigrationSpec): boolean {
  return spec.source.context === spec.target.context && spec.source.namespace === spec.target.namespace;
}

/**
 * The source half: the names, and what the source cluster holds (the StatefulSet, its pods and
 * headless Service, the free member Service names, the source DNS configuration). Reads the
 * source cluster only.
 */
export async function validateSourcePreconditions(
  env: KubeEnv,
  input: ValidateInput,
): Promise<SourcePreconditionReport> {
  const { spec } = input;
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const refuse = (code: RefusalCode, message: string) => refusals.push({ code, message });
  const source = sideOf(env, spec, 'source');

  // Names.
  if (spec.target.statefulSet === spec.source.statefulSet) {
    refuse(
      'SameStatefulSetName',
      `target.statefulSet "${spec.target.statefulSet}" must differ from source.statefulSet: pod hostnames are the etcd member names and must not collide`,
    );
  }
  if (spec.target.service === spec.source.service) {
    refuse(
      'SameServiceName',
      `target.service "${spec.target.service}" must differ from source.service: member names <pod>.<service> of the two sides must not share a domain`,
    );
  }

  const sts = await readStatefulSetOptional(source, spec.source.statefulSet);
  let sourceReplicas: number | null = null;
  if (!sts) {
    refuse(
      'SourceStatefulSetMissing',
      `source StatefulSet ${spec.source.namespace}/${spec.source.statefulSet} not found in context ${spec.source.context}`,
    );
  } else {
    const summary = summarizeStatefulSet(sts);
    sourceReplicas = summary.replicas;
    if (summary.serviceName !== spec.source.service) {
      refuse(
        'SourceServiceMismatch',
        `source.service is "${spec.source.service}" but StatefulSet ${spec.source.statefulSet} uses serviceName "${summary.serviceName}"`,
      );
    }
    if (summary.pvcRetentionWhenScaled === 'Delete') {
      refuse(
        'SourcePvcRetentionDeletes',
        `StatefulSet ${spec.source.statefulSet} has persistentVolumeClaimRetentionPolicy.whenScaled: Delete: scaling it down would delete the old members' PVCs (the way back); set it to Retain first`,
      );
    }
    const pods = await listStatefulSetPods(source, spec.source.statefulSet);
    const live = pods.filter((p) => !p.terminating);
    const unready = live.filter((p) => !p.ready).map((p) => p.name);
    const missing = Array.from(
      { length: summary.replicas },
      (_, i) => `${spec.source.statefulSet}-${i}`,
    ).filter((name) => !live.some((p) => p.name === name));
    if (unready.length || missing.length) {
      refuse(
        'SourcePodNotReady',
        `${SOURCE_PODS_NOT_READY}: ${[
          ...unready.map((p) => `${p} is not Ready`),
          ...missing.map((p) => `${p} does not exist`),
        ].join(
          '; ',
        )} (StatefulSet ${spec.source.namespace}/${spec.source.statefulSet}, replicas ${summary.replicas})`,
      );
    }
  }
  const svc = await readServiceOptional(source, spec.source.service);
  if (!svc) {
    refuse(
      'SourceServiceMissing',
      `source headless Service ${spec.source.namespace}/${spec.source.service} not found`,
    );
  } else if (svc.spec?.clusterIP !== 'None') {
    refuse(
      'SourceServiceNotHeadless',
      `source Service ${spec.source.namespace}/${spec.source.service} is not headless (clusterIP: None)`,
    );
  }

  if (!sameNamespace(spec)) {
    const members = Array.from({ length: sourceReplicas ?? 0 }, (_, i) => `${spec.source.statefulSet}-${i}`);
    await crossClusterChecks(source, spec, members, true, refuse, warnings);
  }
  return {
    ok: refusals.length === 0,
    refusals,
    warnings,
    sourceReplicas,
    resumable: [],
    ...(sts ? { statefulSet: sts } : {}),
    ...(svc ? { service: svc } : {}),
  };
}

/**
 * The target half: the target rendered from the source objects (`source`, as the source half
 * read them or as the source worker sent them) and what the target cluster holds (the namespace,
 * the objects the migration creates, what the pod template needs, the target DNS configuration).
 * Reads the target cluster only.
 */
export async function validateTargetPreconditions(
  env: KubeEnv,
  input: ValidateInput,
  source: { statefulSet?: V1StatefulSet; service?: V1Service },
): Promise<PreconditionReport> {
  const { spec } = input;
  const resuming = input.resuming ?? false;
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const resumable: string[] = [];
  const refuse = (code: RefusalCode, message: string) => refusals.push({ code, message });
  const target = sideOf(env, spec, 'target');
  const crossCluster = !sameNamespace(spec);
  const sts = source.statefulSet;
  const sourceReplicas = sts ? summarizeStatefulSet(sts).replicas : null;
  const ns = await kubeGetOptional(opOn(target, 'get', 'namespaces', spec.target.namespace, null), () =>
    target.clients.core.readNamespace({ name: spec.target.namespace }),
  );

  if (sts) {
    const replicas = input.targetReplicas ?? spec.target.replicas ?? sourceReplicas ?? 1;
    try {
      const rendered = renderTargetStatefulSet(sts, spec, {
        replicas: Math.max(1, replicas),
        initialCluster: `${spec.target.statefulSet}-${Math.max(1, replicas) - 1}=http://${spec.target.statefulSet}-${Math.max(1, replicas) - 1}.${spec.target.service}:2380`,
      });
      const podSpec = rendered.statefulSet.spec!.template.spec!;
      const etcdContainer = podSpec.containers.find((c) => c.name === rendered.etcdContainer)!;
      const image = etcdContainer.image ?? '';
      // The new members advertise what the planner adds them with: https exactly when tls.* says so.
      for (const [flag, tls, field] of [
        ['initial-advertise-peer-urls', spec.tls.peer, 'tls.peer'],
        ['advertise-client-urls', spec.tls.client, 'tls.client'],
      ] as const) {
        const scheme = /^\s*(https?):/.exec(flagValue(etcdContainer, flag) ?? '')?.[1];
        const wanted = tls ? 'https' : 'http';
        if (scheme && scheme !== wanted) {
          refuse(
            'TlsSchemeMismatch',
            `${field} is ${tls ? 'set' : 'not set'}, so the new members join with ${wanted} URLs, but the source pod template advertises --${flag} with ${scheme}: etcd-stretch renders the source's TLS setup as it is (set ${field} to match the source)`,
          );
        }
      }
      const sourceEtcd = findEtcdContainer(sts.spec?.template?.spec).container;
      if (spec.tls.peer && crossCluster && flagValue(sourceEtcd, 'peer-trusted-ca-file')) {
        // etcd checks a peer certificate's SANs against the connection's remote address, which a
        // load balancer that rewrites source addresses (SNAT, proxy) replaces with its own.
        const skips = (container: typeof sourceEtcd) =>
          SKIP_SAN_SETTINGS.some((s) => booleanFlag(container, s.name)?.value === true);
        if (!skips(sourceEtcd)) {
          warnings.push(
            `tls.peer: the old members verify peer certificates without --${skipSanFlag(sourceEtcd.image)}: if the load balancers rewrite source addresses (SNAT, proxies), they refuse the new members (remote address not in the certificate); start them with it or use source-preserving load balancers`,
          );
        }
        if (!skips(etcdContainer)) {
          warnings.push(
            'tls.peer: the new members check peer certificate SANs against remote addresses (tls.peerSkipClientSanVerification is false): peers behind SNAT load balancers will be refused',
          );
        }
      }
      // A tag without a version is preflight's warning (with the versions the source admits).
      const version = etcdVersionOf(image);
      if (version && (version[0] < 3 || (version[0] === 3 && version[1] < 4))) {
        refuse(
          'EtcdTooOld',
          `image ${image} is etcd ${version.join('.')}: the new members join as learners, which needs etcd >= 3.4 (set target.image)`,
        );
      }
      if (!spec.target.storage?.className) {
        const classes = (sts.spec?.volumeClaimTemplates ?? [])
          .map((c) => c.spec?.storageClassName)
          .filter(Boolean);
        if (classes.length && crossCluster) {
          warnings.push(
            `the target PVCs use the source's StorageClass ${classes.join(', ')}: it must exist in context ${spec.target.context} (or set target.storage.className)`,
          );
        }
      }
      if (crossCluster && ns) {
        // The Secrets the migration issues certificates into come into being at the expose phase.
        const issued = new Set(
          (['peer', 'client'] as const)
            .filter((k) => spec.tls[k]?.issueFrom)
            .map((k) => tlsSecretName(spec, k)),
        );
        for (const ref of templateReferences(podSpec)) {
          if (ref.kind === 'Secret' && issued.has(ref.name)) continue;
          const exists = await referenceExists(target, ref.kind, ref.name);
          if (exists === undefined) {
            warnings.push(
              `the pod template needs ${ref.kind} "${ref.name}"; the worker may not read it in ${spec.target.context}/${spec.target.namespace}, so its existence was not checked (grant get on it by name in deploy/rbac-target.yaml to have it checked)`,
            );
          } else if (!exists) {
            refuse(
              'TargetReferenceMissing',
              `the pod template needs ${ref.kind} "${ref.name}", which does not exist in ${spec.target.context}/${spec.target.namespace}: copy or create it first`,
            );
          }
        }
        for (const s of podSpec.imagePullSecrets ?? []) {
          if (s.name && (await referenceExists(target, 'Secret', s.name)) === false) {
            warnings.push(
              `imagePullSecret "${s.name}" does not exist in ${spec.target.context}/${spec.target.namespace}: pulls from a private registry would fail`,
            );
          }
        }
      }
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      refuse(
        'UnsupportedEtcdConfiguration',
        `cannot render the target from StatefulSet ${spec.source.statefulSet}: ${err.message}`,
      );
    }
  }

  if (!ns) {
    refuse(
      'TargetNamespaceMissing',
      `target namespace "${spec.target.namespace}" does not exist in context ${spec.target.context}: create it first`,
    );
  } else {
    const targetSts = await readStatefulSetOptional(target, spec.target.statefulSet);
    if (targetSts) {
      if (resuming && isOurTarget(targetSts, spec)) resumable.push(`StatefulSet ${spec.target.statefulSet}`);
      else
        refuse(
          'TargetStatefulSetExists',
          `StatefulSet ${spec.target.namespace}/${spec.target.statefulSet} already exists in context ${spec.target.context}${
            isOurTarget(targetSts, spec)
              ? ' (left by an earlier run of this migration: resume it, or delete it)'
              : ''
          }: the migration creates it`,
        );
    }
    const targetSvc = await readServiceOptional(target, spec.target.service);
    if (targetSvc) {
      if (isManagedByUs(targetSvc.metadata) && (resuming || !targetSts)) {
        resumable.push(`Service ${spec.target.service}`);
        if (!resuming)
          warnings.push(
            `headless Service ${spec.target.service} was left by an earlier run: it will be reused`,
          );
      } else {
        refuse(
          'TargetServiceExists',
          `Service ${spec.target.namespace}/${spec.target.service} already exists in context ${spec.target.context} and was not created by etcd-stretch: choose another target.service`,
        );
      }
    }
  }

  if (crossCluster) {
    const n = input.targetReplicas ?? spec.target.replicas ?? sourceReplicas ?? 1;
    const members = Array.from({ length: n }, (_, i) => `${spec.target.statefulSet}-${i}`);
    await crossClusterChecks(target, spec, members, ns !== undefined, refuse, warnings);
  }
  return { ok: refusals.length === 0, refusals, warnings, sourceReplicas, resumable };
}

/**
 * One cluster's part of a migration between two: the member Service names must be free or ours,
 * who the member load balancers admit, and the DNS configuration object the spec names there.
 */
async function crossClusterChecks(
  side: KubeSide,
  spec: MigrationSpec,
  members: string[],
  readServices: boolean,
  refuse: (code: RefusalCode, message: string) => void,
  warnings: string[],
): Promise<void> {
  const sideName = side.side;
  const strict = members.map(memberServiceName).filter((name) => !isDns1035Label(name));
  if (strict.length) {
    // Recent API servers accept them (relaxed Service name validation); older ones refuse them.
    warnings.push(
      `member Service names ${strict.join(', ')} (${sideName}) do not start with a letter: API servers without relaxed Service name validation will refuse them`,
    );
  }
  if (readServices) {
    for (const pod of members) {
      const existing = await readServiceOptional(side, memberServiceName(pod));
      if (existing && !isManagedByUs(existing.metadata)) {
        refuse(
          'MemberServiceNameTaken',
          `Service ${side.namespace}/${memberServiceName(pod)} (${sideName}) exists and was not created by etcd-stretch: the member load balancer of ${pod} needs that name`,
        );
      }
    }
  }
  const lb = spec[sideName].loadBalancer;
  if (lb.allowAnyone) {
    warnings.push(
      `${sideName}.loadBalancer.allowAnyone is true: the member load balancers admit ${
        lb.sourceRanges?.length ? lb.sourceRanges.join(', ') : '0.0.0.0/0'
      }; anyone who reaches them can join or read etcd${spec.tls.peer ? '' : ' (and peer traffic is plain http)'}`,
    );
  }
  // The DNS configuration object must exist.
  const strategy = sideName === 'source' ? spec.dns.sourceCluster : spec.dns.targetCluster;
  if (strategy.strategy === 'coredns-hosts') {
    const cm = await kubeGetOptional(
      opOn(side, 'get', 'configmaps', strategy.configMap, strategy.namespace),
      () =>
        side.clients.core.readNamespacedConfigMap({
          name: strategy.configMap,
          namespace: strategy.namespace,
        }),
    );
    const corefile = cm?.data?.[strategy.key];
    if (corefile === undefined) {
      refuse(
        'DnsConfigMissing',
        `dns.${sideName}Cluster: ConfigMap ${strategy.namespace}/${strategy.configMap} ${cm ? `has no key "${strategy.key}"` : 'not found'} in context ${side.context}`,
      );
    } else {
      try {
        readHostsEntries(corefile, dnsOwner(spec));
      } catch (err) {
        refuse(
          'DnsConfigMissing',
          `dns.${sideName}Cluster: cannot edit the Corefile in ${strategy.namespace}/${strategy.configMap}: ${(err as Error).message}`,
        );
      }
    }
  } else if (strategy.strategy === 'patch') {
    const obj = await kubeGetOptional(
      opOn(side, 'get', strategy.object.kind, strategy.object.name, strategy.object.namespace ?? null),
      () => side.clients.objects.readRaw(strategy.object),
    );
    if (!obj) {
      refuse(
        'DnsConfigMissing',
        `dns.${sideName}Cluster: ${strategy.object.kind} ${strategy.object.namespace ? `${strategy.object.namespace}/` : ''}${strategy.object.name} not found in context ${side.context}`,
      );
    }
  }
}
