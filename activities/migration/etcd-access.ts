/**
 * How the worker reaches the etcd members, with the spec's client TLS and auth references.
 *
 * The members of the sides this worker serves (`sidesServedBy`: both in single mode, its own
 * cluster's in per-cluster mode) by pod IP, from the pods it lists there. The members of a side
 * it does not serve through their load balancers (`memberAddresses`, which the workflow sends to
 * per-cluster workers: an IP or a DNS name each), the only path between the clusters. Every
 * member keeps its TLS server name `<pod>.<service>`: the URL holds an address, the certificate
 * the member's name. Members without a pod IP or address are left out (not reachable yet).
 *
 * A cluster whose API server does not answer (or not within `LIST_TIMEOUT_MS`) does not fail
 * the call: its members are reached through their load balancers when their addresses are
 * known, else left out, as members that do not answer. The rollback of a join whose cluster
 * was lost goes through the side that is left.
 */
import { isIP } from 'node:net';
import type { KubeEnv } from '../kubernetes/clients.js';
import { sideOf, warnOf } from '../kubernetes/clients.js';
import { KubernetesUnavailable } from '../kubernetes/errors.js';
import { listStatefulSetPods, type PodSummary } from '../kubernetes/pods.js';
import type { EtcdAccess } from '../etcd/types.js';
import { secretLocation, type SecretRef, type SpecSecretRef } from '../secret-ref.js';
import { sidesServedBy } from '../../core/routing/task-queues.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';

export { acrossTheLink, sideOfMember } from '../../core/routing/member-side.js';

export const CLIENT_PORT = 2379;

const SIDES: readonly Side[] = ['source', 'target'];

export type MemberPods = Record<Side, PodSummary[]>;

/** Member load-balancer addresses by side and member (SpecInput.memberAddresses). */
export type MemberAddresses = Partial<Record<Side, Record<string, string>>>;

export interface EtcdAccessOptions {
  /** The kubeconfig context this worker serves (MigrationActivityDeps.cluster); absent: every one. */
  cluster?: string;
  /** Load-balancer addresses of the members of the sides this worker does not serve. */
  memberAddresses?: MemberAddresses;
  /** Only the members of these sides (default both). */
  sides?: readonly Side[];
}

/** How long listing a cluster's pods may take before that cluster counts as not answering. */
export const LIST_TIMEOUT_MS = 10_000;

/** The pods of `sides`, and why a side's could not be listed (its API server did not answer). */
export interface ListedPods {
  pods: Partial<MemberPods>;
  unlisted: Partial<Record<Side, string>>;
}

/**
 * Pods of `sides`, each listed in its own cluster. A cluster that does not answer
 * (`KubernetesUnavailable`, or nothing within `timeoutMs`) is in `unlisted`; any other error
 * (forbidden, wrong cluster) fails the call.
 */
export async function memberPods(
  env: KubeEnv,
  spec: MigrationSpec,
  sides: readonly Side[] = SIDES,
  timeoutMs = LIST_TIMEOUT_MS,
): Promise<ListedPods> {
  const out: ListedPods = { pods: {}, unlisted: {} };
  await Promise.all(
    sides.map(async (side) => {
      const where = sideOf(env, spec, side);
      try {
        out.pods[side] = await withTimeout(
          listStatefulSetPods(where, spec[side].statefulSet),
          timeoutMs,
          () =>
            new KubernetesUnavailable(
              `list pods in namespace "${where.namespace}" of cluster ${where.context}: no answer within ${timeoutMs} ms`,
            ),
        );
      } catch (err) {
        if (!(err instanceof KubernetesUnavailable)) throw err;
        out.unlisted[side] = err.message;
      }
    }),
  );
  return out;
}

async function withTimeout<T>(p: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `scheme://host:port`, with an IPv6 address in brackets. */
export function clientUrl(scheme: 'http' | 'https', host: string): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${CLIENT_PORT}`;
}

/**
 * The access to the members of `options.sides`: served sides from `pods` (by pod IP), the others
 * from `options.memberAddresses`, and so a served side that `pods` lacks (not listed: its API
 * server did not answer). Served sides come first: calls that fall over from member to member
 * try the ones reached directly before those behind a load balancer.
 */
export function buildEtcdAccess(
  spec: MigrationSpec,
  pods: Partial<MemberPods>,
  options: EtcdAccessOptions = {},
): EtcdAccess {
  const served = sidesServedBy(spec, options.cluster);
  const sides = options.sides ?? SIDES;
  const scheme = spec.tls.client ? 'https' : 'http';
  const endpoints: Record<string, string> = {};
  const serverNames: Record<string, string> = {};
  const add = (side: Side, member: string, host: string) => {
    endpoints[member] = clientUrl(scheme, host);
    serverNames[member] = `${member}.${spec[side].service}`;
  };
  const listed = (s: Side) => served.includes(s) && pods[s] !== undefined;
  for (const side of sides.filter(listed)) {
    for (const p of pods[side] ?? []) if (p.ip && !p.terminating) add(side, p.name, p.ip);
  }
  for (const side of sides.filter((s) => !listed(s))) {
    for (const [member, address] of Object.entries(options.memberAddresses?.[side] ?? {})) {
      if (address) add(side, member, address);
    }
  }
  const access: EtcdAccess = { endpoints, timeoutMs: 5000, ...tlsAndAuth(spec, options.cluster) };
  if (access.tls && spec.tls.client) access.tls = { ...access.tls, serverNames };
  return access;
}

function tlsAndAuth(spec: MigrationSpec, cluster: string | undefined): Pick<EtcdAccess, 'tls' | 'auth'> {
  const out: Pick<EtcdAccess, 'tls' | 'auth'> = {};
  const sideRef = (r: SpecSecretRef, key: string): SecretRef => {
    const { context, namespace } = secretLocation(spec, r, cluster);
    return { secret: { context, namespace, name: r.name, key } };
  };
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

/**
 * Lists the pods of the served sides among `options.sides` and builds the access
 * (buildEtcdAccess). A side whose cluster does not answer is reached as the sides this worker
 * does not serve, or left out (a warning says so); if that leaves no member at all, the listing
 * error is the call's.
 */
export async function etcdAccess(
  env: KubeEnv,
  spec: MigrationSpec,
  options: EtcdAccessOptions & { listTimeoutMs?: number } = {},
): Promise<EtcdAccess> {
  const served = sidesServedBy(spec, options.cluster);
  const toList = (options.sides ?? SIDES).filter((s) => served.includes(s));
  const { pods, unlisted } = await memberPods(env, spec, toList, options.listTimeoutMs);
  const access = buildEtcdAccess(spec, pods, options);
  const failed = Object.entries(unlisted);
  if (failed.length > 0 && Object.keys(access.endpoints).length === 0)
    throw new KubernetesUnavailable(failed.map(([, why]) => why).join('; '));
  for (const [side, why] of failed) {
    const known = Object.keys(options.memberAddresses?.[side as Side] ?? {});
    warnOf(env)(
      `the ${side} cluster did not answer (${why}): its members ` +
        (known.length ? `through their load balancers (${known.join(', ')})` : 'left out of this call'),
    );
  }
  return access;
}
