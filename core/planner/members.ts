/**
 * Old members from the observed member list, new members from the spec, their URLs and the
 * exact `--initial-cluster` strings. Pure.
 */
import type { MigrationSpec } from '../spec/schema.js';
import type { DnsEntry, ObservedMember, PlanMember } from './plan-types.js';

export const PEER_PORT = 2380;
export const CLIENT_PORT = 2379;

/** A problem with the plan's input that makes a safe plan impossible. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

const URL_PATTERN = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[^\s/:?#]+)(?::(\d+))?\/?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export interface ParsedUrl {
  scheme: 'http' | 'https';
  host: string;
  port?: number;
}

/** Parses an etcd member URL without the URL global (not guaranteed inside workflow code). */
export function parseMemberUrl(url: string): ParsedUrl | undefined {
  const match = URL_PATTERN.exec(url);
  if (!match) return undefined;
  const [, scheme, host, port] = match;
  return { scheme: scheme as 'http' | 'https', host: host ?? '', ...(port ? { port: Number(port) } : {}) };
}

export function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || host.startsWith('[');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The ordinal of `<statefulSet>-<n>`, or undefined. */
export function podOrdinal(statefulSet: string, pod: string): number | undefined {
  const match = new RegExp(`^${escapeRegExp(statefulSet)}-(0|[1-9]\\d*)$`).exec(pod);
  return match ? Number(match[1]) : undefined;
}

/**
 * The old members, ordered by ordinal. Every observed member must be a started voter that is a
 * pod of the source StatefulSet, with ordinals exactly 0..n-1 (what a scale-down removes), and
 * must advertise peer URLs by name (an IP is not reachable from the other cluster).
 */
export function oldMembersFrom(spec: MigrationSpec, observed: readonly ObservedMember[]): PlanMember[] {
  const { statefulSet } = spec.source;
  if (observed.length === 0) throw new PlanError('the observed member list is empty');
  const members: PlanMember[] = [];
  for (const member of observed) {
    const label = member.name || member.id || member.peerURLs.join(',');
    if (member.name === '') {
      throw new PlanError(`member ${label} has not started (no name): fix the cluster before migrating`);
    }
    if (member.isLearner) {
      throw new PlanError(
        `member ${member.name} is a learner: finish or undo that membership change before migrating (one learner at a time)`,
      );
    }
    if (podOrdinal(spec.target.statefulSet, member.name) !== undefined) {
      throw new PlanError(
        `member ${member.name} already carries a target member name (StatefulSet ${spec.target.statefulSet}): an earlier attempt left it behind; remove it first`,
      );
    }
    const ordinal = podOrdinal(statefulSet, member.name);
    if (ordinal === undefined) {
      throw new PlanError(
        `member ${member.name} is not a pod of StatefulSet ${statefulSet} (expected ${statefulSet}-<ordinal>): the plan maps members to pods by name`,
      );
    }
    if (member.peerURLs.length === 0) throw new PlanError(`member ${member.name} has no peer URLs`);
    for (const url of member.peerURLs) {
      const parsed = parseMemberUrl(url);
      if (!parsed)
        throw new PlanError(`member ${member.name} has an unparsable peer URL ${JSON.stringify(url)}`);
      if (isIpLiteral(parsed.host)) {
        throw new PlanError(
          `member ${member.name} advertises the peer URL ${url} by IP: the other cluster cannot reach a pod IP; members must advertise <pod>.<service> names`,
        );
      }
    }
    members.push({
      name: member.name,
      ordinal,
      peerURLs: [...member.peerURLs],
      ...(member.id ? { id: member.id } : {}),
    });
  }
  members.sort((a, b) => a.ordinal - b.ordinal);
  members.forEach((member, index) => {
    if (member.ordinal !== index) {
      const names = members.map((m) => m.name).join(', ');
      throw new PlanError(
        `the members (${names}) are not exactly ${statefulSet}-0..${statefulSet}-${members.length - 1}: scaling the StatefulSet down would stop the wrong pods`,
      );
    }
  });
  return members;
}

export function peerScheme(spec: MigrationSpec): 'http' | 'https' {
  return spec.tls.peer ? 'https' : 'http';
}

export function clientScheme(spec: MigrationSpec): 'http' | 'https' {
  return spec.tls.client ? 'https' : 'http';
}

/** `http(s)://<pod>.<headless-service>:2380`. */
/** Name of the LoadBalancer Service of one member pod. */
export function memberServiceName(pod: string): string {
  return `${pod}-lb`;
}

export function targetPeerURL(spec: MigrationSpec, pod: string): string {
  return `${peerScheme(spec)}://${pod}.${spec.target.service}:${PEER_PORT}`;
}

/** `http(s)://<pod>.<headless-service>:2379`. */
export function targetClientURL(spec: MigrationSpec, pod: string): string {
  return `${clientScheme(spec)}://${pod}.${spec.target.service}:${CLIENT_PORT}`;
}

/** The new members `<target-statefulset>-0 .. -(replicas-1)`. */
export function newMembersFor(spec: MigrationSpec, replicas: number): PlanMember[] {
  return Array.from({ length: replicas }, (_, ordinal) => {
    const name = `${spec.target.statefulSet}-${ordinal}`;
    return { name, ordinal, peerURLs: [targetPeerURL(spec, name)] };
  });
}

/** `name=peerURL` for every peer URL of every member, comma-separated, in the given order. */
export function initialCluster(members: readonly PlanMember[]): string {
  return members.flatMap((m) => m.peerURLs.map((url) => `${m.name}=${url}`)).join(',');
}

/** Host names by which the other cluster must reach a member: its pod name and its peer URL hosts. */
export function memberHostnames(member: PlanMember, service: string): string[] {
  const hosts = [member.name, `${member.name}.${service}`];
  for (const url of member.peerURLs) {
    const parsed = parseMemberUrl(url);
    if (parsed && !hosts.includes(parsed.host)) hosts.push(parsed.host);
  }
  return hosts;
}

/** The DNS entries that make `members` (of headless Service `service`) resolvable from the other cluster. */
export function dnsEntries(members: readonly PlanMember[], service: string): DnsEntry[] {
  return members.map((member) => ({ member: member.name, hostnames: memberHostnames(member, service) }));
}

/**
 * The member list a source StatefulSet of `replicas` pods would have if its members advertise
 * `<scheme>://<pod>.<service>:2380` (the article's setup). For an offline dry run only: a real
 * plan uses the observed member list.
 */
export function assumedSourceMembers(
  spec: MigrationSpec,
  replicas: number,
  scheme: 'http' | 'https' = peerScheme(spec),
): ObservedMember[] {
  const { statefulSet, service } = spec.source;
  return Array.from({ length: replicas }, (_, ordinal) => ({
    name: `${statefulSet}-${ordinal}`,
    peerURLs: [`${scheme}://${statefulSet}-${ordinal}.${service}:${PEER_PORT}`],
    isLearner: false,
  }));
}
