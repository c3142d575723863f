/**
 * One `type: LoadBalancer` Service per member pod, in either cluster: the other cluster
 * reaches each member on its own IP (peer 2380, client 2379).
 *
 * - selector `statefulset.kubernetes.io/pod-name: <pod>`: exactly that member, wherever it runs;
 * - `externalTrafficPolicy: Local`: no second hop through another node, client IP kept
 *   (source ranges apply to the real peer address);
 * - `publishNotReadyAddresses: true`: a joining learner is not Ready (its readiness probe
 *   needs a voter's linearizable read) but raft must reach it through this Service;
 * - `loadBalancerSourceRanges` from the spec: `0.0.0.0/0` only with `allowAnyone: true`,
 *   with a loud warning;
 * - the spec's cloud annotations (internal load balancer, subnet, ...). Examples:
 *     Yandex Cloud (the article): yandex.cloud/load-balancer-type: internal,
 *                                 yandex.cloud/subnet-id: <subnet>
 *     AWS (LB controller):        service.beta.kubernetes.io/aws-load-balancer-scheme: internal,
 *                                 service.beta.kubernetes.io/aws-load-balancer-type: external,
 *                                 service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
 *     GKE:                        networking.gke.io/load-balancer-type: Internal
 *     AKS:                        service.beta.kubernetes.io/azure-load-balancer-internal: "true",
 *                                 service.beta.kubernetes.io/azure-load-balancer-internal-subnet: <subnet>
 */
import type { V1Service } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';
import { parseDuration } from '../../core/spec/duration.js';
import { runContextOf, sideOf, warnOf, type KubeEnv } from './clients.js';
import { readServiceOptional } from './discover-source.js';
import { PreconditionFailed, kubeCall, kubeDeleteIdempotent, opOn } from './errors.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MEMBER_LABEL,
  POD_NAME_LABEL,
  STATEFULSET_LABEL,
  isManagedByUs,
  memberServiceName,
  ordinalOf,
} from './labels.js';
import { waitUntil } from './pods.js';
import { applyObject, declaredStateChanged } from './target-statefulset.js';

export const PEER_PORT = 2380;
export const CLIENT_PORT = 2379;

export interface MemberServicesInput {
  spec: MigrationSpec;
  side: Side;
  /** Member pod names (`<statefulset>-<ordinal>`) of that side. */
  members: string[];
}

/** The source ranges of a side's member load balancers, and a warning when they admit anyone. */
export function loadBalancerSourceRanges(
  spec: MigrationSpec,
  side: Side,
): { ranges: string[]; warning?: string } {
  const lb = spec[side].loadBalancer;
  const given = lb.sourceRanges ?? [];
  if (!lb.allowAnyone) {
    if (given.length === 0) {
      throw new PreconditionFailed(
        `${side}.loadBalancer.sourceRanges is empty: list the other cluster's ranges (or set allowAnyone: true explicitly)`,
      );
    }
    return { ranges: [...given] };
  }
  const ranges = given.length ? [...given] : ['0.0.0.0/0'];
  return {
    ranges,
    warning:
      `${side}.loadBalancer.allowAnyone: the member load balancers of ${spec[side].statefulSet} admit ${ranges.join(', ')} ` +
      `on the etcd peer and client ports: anyone who can reach them can join or read the cluster`,
  };
}

export function renderMemberService(spec: MigrationSpec, side: Side, pod: string): V1Service {
  const { ranges } = loadBalancerSourceRanges(spec, side);
  const s = spec[side];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: memberServiceName(pod),
      namespace: s.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [MEMBER_LABEL]: pod, [STATEFULSET_LABEL]: s.statefulSet },
      ...(Object.keys(s.loadBalancer.annotations).length
        ? { annotations: { ...s.loadBalancer.annotations } }
        : {}),
    },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      publishNotReadyAddresses: true,
      loadBalancerSourceRanges: ranges,
      selector: { [POD_NAME_LABEL]: pod },
      ports: [
        { name: 'etcd-server', port: PEER_PORT, targetPort: PEER_PORT, protocol: 'TCP' },
        { name: 'etcd-client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' },
      ],
    },
  };
}

function checkMembers(spec: MigrationSpec, side: Side, members: string[]): void {
  const sts = spec[side].statefulSet;
  const strangers = members.filter((m) => ordinalOf(sts, m) === undefined);
  if (strangers.length) {
    throw new PreconditionFailed(
      `member Services (${side}): ${strangers.join(', ')} are not pods of StatefulSet ${sts} (<name>-<ordinal>)`,
    );
  }
}

export interface EnsureMemberServicesResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  warnings: string[];
}

export async function ensureMemberServices(
  env: KubeEnv,
  input: MemberServicesInput,
): Promise<EnsureMemberServicesResult> {
  const { spec, side: sideName, members } = input;
  checkMembers(spec, sideName, members);
  const side = sideOf(env, spec, sideName);
  const { warning } = loadBalancerSourceRanges(spec, sideName);
  if (warning) warnOf(env)(warning);
  const result: EnsureMemberServicesResult = {
    created: [],
    updated: [],
    unchanged: [],
    warnings: warning ? [warning] : [],
  };
  // Every name is checked before the first Service is written; then they are written at once.
  const existing = await Promise.all(members.map((pod) => readServiceOptional(side, memberServiceName(pod))));
  members.forEach((pod, i) => {
    if (existing[i] && !isManagedByUs(existing[i].metadata)) {
      throw new PreconditionFailed(
        `Service ${side.namespace}/${memberServiceName(pod)} in context ${side.context} exists and was not created by etcd-stretch: the load balancer of member ${pod} needs that name`,
      );
    }
  });
  const applied = await Promise.all(
    members.map((pod) => applyObject(side, renderMemberService(spec, sideName, pod), 'services')),
  );
  members.forEach((pod, i) => {
    if (!existing[i]) result.created.push(pod);
    else if (declaredStateChanged(existing[i], applied[i]!)) result.updated.push(pod);
    else result.unchanged.push(pod);
  });
  return result;
}

export async function deleteMemberServices(
  env: KubeEnv,
  input: MemberServicesInput,
): Promise<{ deleted: string[] }> {
  const { spec, side: sideName, members } = input;
  checkMembers(spec, sideName, members);
  const side = sideOf(env, spec, sideName);
  // Every Service is checked before the first is deleted; then they are deleted at once.
  const existing = await Promise.all(members.map((pod) => readServiceOptional(side, memberServiceName(pod))));
  members.forEach((pod, i) => {
    if (existing[i] && !isManagedByUs(existing[i].metadata)) {
      throw new PreconditionFailed(
        `Service ${side.namespace}/${memberServiceName(pod)} was not created by etcd-stretch: not deleting it`,
      );
    }
  });
  const gone = await Promise.all(
    members.map((pod, i) =>
      existing[i]
        ? kubeDeleteIdempotent(opOn(side, 'delete', 'services', memberServiceName(pod)), () =>
            side.clients.core.deleteNamespacedService({
              name: memberServiceName(pod),
              namespace: side.namespace,
            }),
          )
        : Promise.resolve(false),
    ),
  );
  return { deleted: members.filter((_, i) => gone[i]) };
}

/** Waits until every member's load balancer has an ingress IP (or hostname); member -> address. */
export async function awaitLoadBalancers(
  env: KubeEnv,
  input: MemberServicesInput & { timeoutMs?: number },
): Promise<{ addresses: Record<string, string> }> {
  const { spec, side: sideName, members } = input;
  checkMembers(spec, sideName, members);
  const side = sideOf(env, spec, sideName);
  const rc = runContextOf(env);
  const deadline = input.timeoutMs ?? parseDuration(spec.deadlines.loadBalancers) ?? 900_000;
  const addresses: Record<string, string> = {};
  await waitUntil(
    rc,
    `load-balancer addresses of ${members.join(', ')} in ${side.context}/${side.namespace}`,
    deadline,
    async () => {
      for (const pod of members) {
        if (addresses[pod]) continue;
        const name = memberServiceName(pod);
        const svc = await kubeCall(opOn(side, 'get', 'services', name), () =>
          side.clients.core.readNamespacedService({ name, namespace: side.namespace }),
        );
        const ingress = svc.status?.loadBalancer?.ingress?.find((i) => i.ip || i.hostname);
        const address = ingress?.ip ?? ingress?.hostname;
        if (address) addresses[pod] = address;
      }
      return members.every((m) => addresses[m]) ? true : undefined;
    },
    {
      progress: () => ({
        ready: Object.keys(addresses).length,
        of: members.length,
        pending: members.filter((m) => !addresses[m]),
      }),
      wakeOn: { side, kind: 'services' },
    },
  );
  return { addresses: Object.fromEntries(members.map((m) => [m, addresses[m]!])) };
}
