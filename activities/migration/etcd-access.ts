/**
 * How the worker reaches the etcd members: the pod IPs of the source and target StatefulSets
 * (`access.etcd: pod-ip`; the worker runs where both clusters' pod networks are routable), with
 * the spec's client TLS and auth references.
 */
import type { KubeEnv } from '../kubernetes/clients.js';
import { sideOf } from '../kubernetes/clients.js';
import { listStatefulSetPods, type PodSummary } from '../kubernetes/pods.js';
import type { EtcdAccess } from '../etcd/types.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';

export const CLIENT_PORT = 2379;

export interface MemberPods {
  source: PodSummary[];
  target: PodSummary[];
}

export async function memberPods(env: KubeEnv, spec: MigrationSpec): Promise<MemberPods> {
  const [source, target] = await Promise.all([
    listStatefulSetPods(sideOf(env, spec, 'source'), spec.source.statefulSet),
    listStatefulSetPods(sideOf(env, spec, 'target'), spec.target.statefulSet),
  ]);
  return { source, target };
}

export function sideOfMember(spec: MigrationSpec, name: string): Side | 'unknown' {
  const ordinalOf = (sts: string) =>
    new RegExp(`^${sts.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`).test(name);
  if (ordinalOf(spec.target.statefulSet)) return 'target';
  if (ordinalOf(spec.source.statefulSet)) return 'source';
  return 'unknown';
}

export function accessFromPods(
  spec: MigrationSpec,
  pods: MemberPods,
  sides: Side[] = ['source', 'target'],
): EtcdAccess {
  const scheme = spec.tls.client ? 'https' : 'http';
  const endpoints: Record<string, string> = {};
  // The worker dials pod IPs; a member's certificate names it `<pod>.<headless-service>`.
  const serverNames: Record<string, string> = {};
  for (const side of sides) {
    for (const p of pods[side]) {
      if (!p.ip || p.terminating) continue;
      endpoints[p.name] = `${scheme}://${p.ip}:${CLIENT_PORT}`;
      serverNames[p.name] = `${p.name}.${spec[side].service}`;
    }
  }
  const access: EtcdAccess = { endpoints, timeoutMs: 5000, ...tlsAndAuth(spec) };
  if (access.tls && spec.tls.client) access.tls = { ...access.tls, serverNames };
  return access;
}

function tlsAndAuth(spec: MigrationSpec): Pick<EtcdAccess, 'tls' | 'auth'> {
  const out: Pick<EtcdAccess, 'tls' | 'auth'> = {};
  const sideRef = (r: { cluster: Side; namespace?: string; name: string }, key: string) => ({
    secret: {
      context: spec[r.cluster].context,
      namespace: r.namespace ?? spec[r.cluster].namespace,
      name: r.name,
      key,
    },
  });
  const operator = spec.tls.operator;
  if (operator) {
    out.tls = {
      ca: sideRef(operator, operator.caKey),
      cert: sideRef(operator, operator.certKey),
      key: sideRef(operator, operator.keyKey),
    };
  }
  const auth = spec.auth?.secret;
  if (auth)
    out.auth = { username: sideRef(auth, auth.usernameKey), password: sideRef(auth, auth.passwordKey) };
  return out;
}

export async function etcdAccess(env: KubeEnv, spec: MigrationSpec, sides?: Side[]): Promise<EtcdAccess> {
  return accessFromPods(spec, await memberPods(env, spec), sides);
}
