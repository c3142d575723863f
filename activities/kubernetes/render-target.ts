/**
 * Renders the target StatefulSet and its headless Service from the source's. Pure: no I/O,
 * the same input always gives the same objects (they are server-side applied as a whole).
 *
 * What changes against the source's pod template:
 * - name, `serviceName` (the target's own headless Service) and a selector of its own
 *   (`etcd-stretch.io/statefulset: <name>`, so that the two StatefulSets never select each
 *   other's pods even in one namespace); the template keeps the source's labels (pod
 *   anti-affinity rules written against them keep working);
 * - the etcd configuration for joining an existing cluster: `initial-cluster-state existing`,
 *   the given `initial-cluster`, advertise URLs under the new headless Service (wherever the
 *   source writes them: script, args or `ETCD_*` env);
 * - the spec's overrides: image, resources, storage class and size, labels, annotations;
 * - `hostAliases` for the old members' names (the `host-aliases` DNS strategy);
 * - `updateStrategy: OnDelete`: a template change (the next member's `initial-cluster`, the
 *   final one, hostAliases) never rolls a pod that already runs; a new ordinal starts from
 *   the current template. `podManagementPolicy: Parallel`: the migration decides when each
 *   ordinal starts (one replica at a time); a learner is not Ready, and `OrderedReady` would
 *   also block a scale-down behind an unready pod.
 */
import type {
  V1Container,
  V1HostAlias,
  V1PersistentVolumeClaim,
  V1PodSpec,
  V1Service,
  V1ServicePort,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import {
  editFlag,
  flagValue,
  readEtcdSettings,
  renameUrlHosts,
  runsEtcd,
  setFlag,
  urlsUnderService,
  type HostRename,
} from './etcd-flags.js';
import { RenderError } from './render-error.js';
import { renderTargetTls } from './render-tls.js';
import { MANAGED_BY, MANAGED_BY_LABEL, SOURCE_ANNOTATION, STATEFULSET_LABEL, ordinalOf } from './labels.js';

/** One `/etc/hosts` line: an IP and the names that resolve to it. */
export interface HostEntry {
  ip: string;
  hostnames: string[];
}

export { RenderError };

export interface RenderTargetOptions {
  /** Absolute replica count. */
  replicas: number;
  /** `--initial-cluster` for the newest ordinal: every current member plus itself. */
  initialCluster: string;
  /** hostAliases of the target pods (the old members' names -> their load balancers). */
  hostAliases?: HostEntry[];
}

export interface RenderedTarget {
  statefulSet: V1StatefulSet;
  /** Name of the etcd container in the pod template. */
  etcdContainer: string;
  /** Where each rewritten setting was found, e.g. `initial-cluster: script`. */
  notes: string[];
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The etcd container of a pod spec: the one that runs etcd (preferring one named `etcd`). */
export function findEtcdContainer(podSpec: V1PodSpec | undefined): { index: number; container: V1Container } {
  const containers = podSpec?.containers ?? [];
  const candidates = containers
    .map((c, index) => ({ index, container: c }))
    .filter((c) => runsEtcd(c.container));
  const pick = candidates.find((c) => c.container.name === 'etcd') ?? candidates[0];
  if (!pick) {
    throw new RenderError(
      `no container of the pod template runs etcd (looked for an "etcd" command or an etcd image in: ${containers.map((c) => c.name).join(', ') || 'no containers'})`,
    );
  }
  return pick;
}

/** Parses `name=url,name=url` into pairs; throws RenderError on a malformed value. */
export function parseInitialCluster(value: string): { name: string; url: string }[] {
  const pairs = value.split(',').map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) {
      throw new RenderError(
        `malformed initial-cluster entry ${JSON.stringify(part)} (expected name=peerURL)`,
      );
    }
    return { name: part.slice(0, eq), url: part.slice(eq + 1) };
  });
  if (pairs.length === 0) throw new RenderError('initial-cluster is empty');
  return pairs;
}

/**
 * Checks the `initial-cluster` a target pod starts with: it must list the newest ordinal
 * (`<statefulSet>-<replicas-1>`) under the target's headless Service, and no target
 * member beyond it.
 */
export function checkInitialCluster(value: string, spec: MigrationSpec, replicas: number): void {
  const pairs = parseInitialCluster(value);
  const { statefulSet, service } = spec.target;
  const newest = `${statefulSet}-${replicas - 1}`;
  const own = pairs.filter((p) => p.name === newest);
  if (own.length === 0) {
    throw new RenderError(
      `initial-cluster does not list ${newest}, the member that starts at replicas=${replicas}: ${value}`,
    );
  }
  for (const p of own) {
    if (!urlsUnderService(p.url, service)) {
      throw new RenderError(
        `initial-cluster gives ${newest} the peer URL ${p.url}, not under its headless Service ${service} (${newest}.${service})`,
      );
    }
  }
  for (const p of pairs) {
    const ordinal = ordinalOf(statefulSet, p.name);
    if (ordinal !== undefined && ordinal >= replicas) {
      throw new RenderError(
        `initial-cluster lists ${p.name}, beyond the newest ordinal ${replicas - 1} at replicas=${replicas}`,
      );
    }
  }
}

export interface EtcdRewrite {
  initialCluster: string;
  rename: HostRename;
}

/**
 * The etcd container of a target pod: joins an existing cluster with `initialCluster`,
 * advertises under the target's headless Service. Refuses configurations it cannot rewrite.
 */
export function rewriteEtcdContainer(
  container: V1Container,
  rewrite: EtcdRewrite,
): { container: V1Container; notes: string[] } {
  const settings = readEtcdSettings(container);
  if (settings['config-file']) {
    throw new RenderError(
      `container ${container.name} configures etcd with a config file (${settings['config-file'].value}): etcd then ignores flags and environment, so the migration cannot set initial-cluster; use flags or ETCD_* variables`,
    );
  }
  for (const d of ['discovery', 'discovery-srv'] as const) {
    if (settings[d]) {
      throw new RenderError(
        `container ${container.name} bootstraps with --${d}: joining an existing cluster needs an explicit initial-cluster`,
      );
    }
  }
  const notes: string[] = [];
  let c = container;
  const cluster = setFlag(c, 'initial-cluster', rewrite.initialCluster);
  c = cluster.container;
  notes.push(`initial-cluster: ${cluster.where.join('+')}`);
  const state = setFlag(c, 'initial-cluster-state', 'existing');
  c = state.container;
  notes.push(`initial-cluster-state: ${state.where.join('+')}`);
  for (const flag of ['initial-advertise-peer-urls', 'advertise-client-urls'] as const) {
    const before = flagValue(c, flag);
    if (before === undefined) {
      throw new RenderError(
        `container ${container.name} does not set --${flag}: members must advertise <pod>.<headless-service> names the other cluster can resolve`,
      );
    }
    const edited = editFlag(c, flag, (v) => renameUrlHosts(v, rewrite.rename));
    c = edited.container;
    const after = flagValue(c, flag) ?? '';
    if (!urlsUnderService(after, rewrite.rename.toService)) {
      throw new RenderError(
        `container ${container.name}: --${flag}=${before} does not advertise <pod>.${rewrite.rename.fromService} names, so it cannot be moved under ${rewrite.rename.toService} (advertise by IP cannot work across clusters)`,
      );
    }
    notes.push(`${flag}: ${edited.where.join('+')}`);
  }
  return { container: c, notes };
}

function mergeHostAliases(existing: V1HostAlias[] | undefined, ours: HostEntry[] | undefined): V1HostAlias[] {
  const oursNames = new Set((ours ?? []).flatMap((e) => e.hostnames));
  const kept = (existing ?? [])
    .map((a) => ({ ...a, hostnames: (a.hostnames ?? []).filter((h) => !oursNames.has(h)) }))
    .filter((a) => a.hostnames.length > 0);
  return [...kept, ...(ours ?? []).map((e) => ({ ip: e.ip, hostnames: [...e.hostnames] }))];
}

/** The volume claim template that holds etcd's data dir (mounted at or above `--data-dir`). */
function dataClaimName(container: V1Container, claims: V1PersistentVolumeClaim[]): string | undefined {
  if (claims.length === 1) return claims[0]!.metadata?.name;
  const dataDir = flagValue(container, 'data-dir');
  if (!dataDir) return undefined;
  const mounts = (container.volumeMounts ?? [])
    .filter((m) => dataDir === m.mountPath || dataDir.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
  const names = new Set(claims.map((c) => c.metadata?.name));
  return mounts.find((m) => names.has(m.name))?.name;
}

function renderClaims(
  source: V1PersistentVolumeClaim[],
  dataClaim: string | undefined,
  spec: MigrationSpec,
): V1PersistentVolumeClaim[] {
  const storage = spec.target.storage;
  return source.map((claim) => {
    const isData = dataClaim === undefined || claim.metadata?.name === dataClaim;
    const requests = { ...(claim.spec?.resources?.requests ?? {}) };
    if (isData && storage?.size) requests.storage = storage.size;
    const className = isData && storage?.className ? storage.className : claim.spec?.storageClassName;
    return {
      metadata: {
        name: claim.metadata?.name ?? 'data',
        ...(claim.metadata?.labels ? { labels: { ...claim.metadata.labels } } : {}),
        ...(claim.metadata?.annotations ? { annotations: { ...claim.metadata.annotations } } : {}),
      },
      spec: {
        accessModes: [...(claim.spec?.accessModes ?? ['ReadWriteOnce'])],
        resources: { requests },
        ...(className ? { storageClassName: className } : {}),
        ...(claim.spec?.volumeMode ? { volumeMode: claim.spec.volumeMode } : {}),
      },
    };
  });
}

/** The target StatefulSet for `replicas`, from the source StatefulSet and the spec. */
export function renderTargetStatefulSet(
  source: V1StatefulSet,
  spec: MigrationSpec,
  options: RenderTargetOptions,
): RenderedTarget {
  const { target } = spec;
  if (target.statefulSet === spec.source.statefulSet) {
    throw new RenderError(
      `target.statefulSet must differ from the source StatefulSet ${spec.source.statefulSet}: pod hostnames are etcd member names`,
    );
  }
  if (!Number.isInteger(options.replicas) || options.replicas < 1) {
    throw new RenderError(`replicas must be a positive integer, got ${options.replicas}`);
  }
  checkInitialCluster(options.initialCluster, spec, options.replicas);
  const template = clone(source.spec?.template);
  if (!template?.spec) throw new RenderError(`StatefulSet ${source.metadata?.name} has no pod template`);
  const { index, container } = findEtcdContainer(template.spec);
  const rewritten = rewriteEtcdContainer(container, {
    initialCluster: options.initialCluster,
    rename: {
      fromService: source.spec?.serviceName ?? spec.source.service,
      toService: target.service,
      fromNamespace: spec.source.namespace,
      toNamespace: target.namespace,
    },
  });
  const etcd: V1Container = { ...rewritten.container };
  if (target.image) etcd.image = target.image;
  if (target.resources) {
    etcd.resources = {
      ...(etcd.resources ?? {}),
      ...(target.resources.requests ? { requests: { ...target.resources.requests } } : {}),
      ...(target.resources.limits ? { limits: { ...target.resources.limits } } : {}),
    };
  }
  let podSpec: V1PodSpec = { ...template.spec, containers: [...template.spec.containers] };
  podSpec.containers[index] = etcd;
  const tls = renderTargetTls(podSpec, index, spec);
  podSpec = tls.podSpec;
  const aliases = mergeHostAliases(template.spec.hostAliases, options.hostAliases);
  if (aliases.length > 0) podSpec.hostAliases = aliases;
  else delete podSpec.hostAliases;

  const templateLabels: Record<string, string> = {
    ...(template.metadata?.labels ?? {}),
    ...target.labels,
    [STATEFULSET_LABEL]: target.statefulSet,
  };
  const templateAnnotations: Record<string, string> = {
    ...(template.metadata?.annotations ?? {}),
    ...target.annotations,
  };
  const sourceClaims = source.spec?.volumeClaimTemplates ?? [];
  const sourceRef = `${spec.source.context}/${spec.source.namespace}/${spec.source.statefulSet}`;
  const statefulSet: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: target.statefulSet,
      namespace: target.namespace,
      labels: {
        ...(source.metadata?.labels ?? {}),
        ...target.labels,
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [STATEFULSET_LABEL]: target.statefulSet,
      },
      annotations: { ...target.annotations, [SOURCE_ANNOTATION]: sourceRef },
    },
    spec: {
      replicas: options.replicas,
      serviceName: target.service,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: { [STATEFULSET_LABEL]: target.statefulSet } },
      template: {
        metadata: {
          labels: templateLabels,
          ...(Object.keys(templateAnnotations).length ? { annotations: templateAnnotations } : {}),
        },
        spec: podSpec,
      },
      ...(sourceClaims.length
        ? {
            volumeClaimTemplates: renderClaims(
              sourceClaims,
              dataClaimName(tls.container, sourceClaims),
              spec,
            ),
          }
        : {}),
      ...(source.spec?.minReadySeconds !== undefined ? { minReadySeconds: source.spec.minReadySeconds } : {}),
    },
  };
  return { statefulSet, etcdContainer: etcd.name, notes: [...rewritten.notes, ...tls.notes] };
}

const DEFAULT_PORTS: V1ServicePort[] = [
  { name: 'etcd-server', port: 2380, targetPort: 2380 },
  { name: 'etcd-client', port: 2379, targetPort: 2379 },
];

/**
 * The target's headless Service: `<pod>.<service>` records for the new members, published
 * before they are Ready (a learner is not Ready, and the others must reach it).
 */
export function renderTargetHeadlessService(
  sourceService: V1Service | undefined,
  spec: MigrationSpec,
): V1Service {
  const ports: V1ServicePort[] = (sourceService?.spec?.ports ?? DEFAULT_PORTS).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    ...(p.protocol ? { protocol: p.protocol } : {}),
  }));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: spec.target.service,
      namespace: spec.target.namespace,
      labels: {
        ...spec.target.labels,
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [STATEFULSET_LABEL]: spec.target.statefulSet,
      },
    },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [STATEFULSET_LABEL]: spec.target.statefulSet },
      ports,
    },
  };
}

/**
 * The final configuration of a target pod template: `initial-cluster` lists only the new
 * members. Returns the new etcd container (to be patched in place; OnDelete: no pod restarts).
 */
export function finalEtcdContainer(
  statefulSet: V1StatefulSet,
  initialCluster: string,
): { index: number; container: V1Container; changed: boolean } {
  parseInitialCluster(initialCluster);
  const { index, container } = findEtcdContainer(statefulSet.spec?.template?.spec);
  const next = setFlag(container, 'initial-cluster', initialCluster).container;
  const changed = JSON.stringify(next) !== JSON.stringify(container);
  return { index, container: next, changed };
}
