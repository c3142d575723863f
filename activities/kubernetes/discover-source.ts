/**
 * Reads the source etcd as Kubernetes sees it: the StatefulSet, its headless Service, its
 * Pods and which etcd member each pod is (member name and advertised URLs, as the pod's
 * own configuration gives them). Changes nothing. The result is small and serialisable.
 */
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { sideOf, type KubeEnv, type KubeSide } from './clients.js';
import { flagValue, readEtcdSettings, type FlagLocation } from './etcd-flags.js';
import { kubeCall, kubeGetOptional, opOn } from './errors.js';
import { expandForPod, listStatefulSetPods, type PodSummary } from './pods.js';
import { findEtcdContainer } from './render-target.js';

export interface StatefulSetSummary {
  name: string;
  namespace: string;
  uid: string;
  replicas: number;
  readyReplicas: number;
  serviceName: string;
  podManagementPolicy: string;
  updateStrategy: string;
  selector: Record<string, string>;
  volumeClaimTemplates: { name: string; storageClassName: string | null; size: string | null }[];
  /** `persistentVolumeClaimRetentionPolicy.whenScaled` (Retain unless set). */
  pvcRetentionWhenScaled: string;
  currentRevision: string | null;
  updateRevision: string | null;
}

export interface HeadlessServiceSummary {
  name: string;
  headless: boolean;
  publishNotReadyAddresses: boolean;
  ports: { name: string | null; port: number }[];
}

export interface SourceMember {
  pod: string;
  /** etcd member name (`--name`, expanded for the pod). */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export interface SourceDiscovery {
  statefulSet: StatefulSetSummary;
  headlessService: HeadlessServiceSummary | null;
  etcdContainer: string;
  image: string;
  containerPorts: { name: string | null; containerPort: number; protocol: string }[];
  /** Where the etcd settings are written (script, args, env) and their raw values. */
  etcdConfig: {
    initialClusterWrittenIn: FlagLocation | null;
    initialCluster: string | null;
    initialClusterToken: string | null;
    initialAdvertisePeerUrls: string | null;
    advertiseClientUrls: string | null;
  };
  pods: PodSummary[];
  members: SourceMember[];
}

export function summarizeStatefulSet(sts: V1StatefulSet): StatefulSetSummary {
  return {
    name: sts.metadata?.name ?? '',
    namespace: sts.metadata?.namespace ?? '',
    uid: sts.metadata?.uid ?? '',
    replicas: sts.spec?.replicas ?? 1,
    readyReplicas: sts.status?.readyReplicas ?? 0,
    serviceName: sts.spec?.serviceName ?? '',
    podManagementPolicy: sts.spec?.podManagementPolicy ?? 'OrderedReady',
    updateStrategy: sts.spec?.updateStrategy?.type ?? 'RollingUpdate',
    selector: { ...(sts.spec?.selector?.matchLabels ?? {}) },
    volumeClaimTemplates: (sts.spec?.volumeClaimTemplates ?? []).map((c) => ({
      name: c.metadata?.name ?? '',
      storageClassName: c.spec?.storageClassName ?? null,
      size: c.spec?.resources?.requests?.storage ?? null,
    })),
    pvcRetentionWhenScaled: sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain',
    currentRevision: sts.status?.currentRevision ?? null,
    updateRevision: sts.status?.updateRevision ?? null,
  };
}

function summarizeService(svc: V1Service): HeadlessServiceSummary {
  return {
    name: svc.metadata?.name ?? '',
    headless: svc.spec?.clusterIP === 'None',
    publishNotReadyAddresses: svc.spec?.publishNotReadyAddresses ?? false,
    ports: (svc.spec?.ports ?? []).map((p) => ({ name: p.name ?? null, port: p.port })),
  };
}

export async function readStatefulSet(side: KubeSide, name: string): Promise<V1StatefulSet> {
  return kubeCall(opOn(side, 'get', 'statefulsets.apps', name), () =>
    side.clients.apps.readNamespacedStatefulSet({ name, namespace: side.namespace }),
  );
}

export async function readStatefulSetOptional(
  side: KubeSide,
  name: string,
): Promise<V1StatefulSet | undefined> {
  return kubeGetOptional(opOn(side, 'get', 'statefulsets.apps', name), () =>
    side.clients.apps.readNamespacedStatefulSet({ name, namespace: side.namespace }),
  );
}

export async function readServiceOptional(side: KubeSide, name: string): Promise<V1Service | undefined> {
  return kubeGetOptional(opOn(side, 'get', 'services', name), () =>
    side.clients.core.readNamespacedService({ name, namespace: side.namespace }),
  );
}

/** The source StatefulSet, headless Service, Pods and members. Throws NotFound without the StatefulSet. */
export async function discoverSource(env: KubeEnv, input: { spec: MigrationSpec }): Promise<SourceDiscovery> {
  const { spec } = input;
  const side = sideOf(env, spec, 'source');
  const sts = await readStatefulSet(side, spec.source.statefulSet);
  const [svc, pods] = await Promise.all([
    readServiceOptional(side, spec.source.service),
    listStatefulSetPods(side, spec.source.statefulSet),
  ]);
  const { container } = findEtcdContainer(sts.spec?.template?.spec);
  const settings = readEtcdSettings(container);
  const members = pods.map((p): SourceMember => {
    const expand = (v: string | undefined) =>
      v === undefined ? undefined : expandForPod(v, container, p.name, side.namespace);
    const list = (v: string | undefined) =>
      expand(v)
        ?.split(',')
        .map((u) => u.trim())
        .filter(Boolean) ?? [];
    return {
      pod: p.name,
      name: expand(flagValue(container, 'name')) ?? p.name,
      peerURLs: list(flagValue(container, 'initial-advertise-peer-urls')),
      clientURLs: list(flagValue(container, 'advertise-client-urls')),
    };
  });
  return {
    statefulSet: summarizeStatefulSet(sts),
    headlessService: svc ? summarizeService(svc) : null,
    etcdContainer: container.name,
    image: container.image ?? '',
    containerPorts: (container.ports ?? []).map((p) => ({
      name: p.name ?? null,
      containerPort: p.containerPort,
      protocol: p.protocol ?? 'TCP',
    })),
    etcdConfig: {
      initialClusterWrittenIn: settings['initial-cluster']?.where ?? null,
      initialCluster: settings['initial-cluster']?.value ?? null,
      initialClusterToken: settings['initial-cluster-token']?.value ?? null,
      initialAdvertisePeerUrls: settings['initial-advertise-peer-urls']?.value ?? null,
      advertiseClientUrls: settings['advertise-client-urls']?.value ?? null,
    },
    pods,
    members,
  };
}
