import { isIP } from 'node:net';
import type { V1Pod, V1Service } from '@kubernetes/client-node';

export interface HostEntry {
  ip: string;
  names: string[];
}

/** Static entries of every `hosts` plugin block in a CoreDNS Corefile (`IP name...` lines). */
export function parseCorefileHosts(corefile: string): HostEntry[] {
  const entries: HostEntry[] = [];
  let depth = 0;
  let hostsDepth = -1;
  for (const raw of corefile.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (hostsDepth < 0 && /^hosts(\s|\{|$)/.test(line) && opens > 0) {
      hostsDepth = depth + 1;
    } else if (hostsDepth >= 0 && depth === hostsDepth) {
      const [first, ...rest] = line.split(/\s+/);
      if (first && isIP(first) && rest.length > 0) entries.push({ ip: first, names: rest });
    }
    depth += opens - closes;
    if (hostsDepth >= 0 && depth < hostsDepth) hostsDepth = -1;
  }
  return entries;
}

/** A CoreDNS `rewrite name exact FROM TO`: a query for `from` is answered as `to` would be. */
export interface NameRewrite {
  from: string;
  to: string;
}

const MATCH_TYPES = new Set(['exact', 'prefix', 'suffix', 'substring', 'regex']);

function withoutRootDot(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** `name [TYPE] FROM TO [answer ...]` (the words after `rewrite [continue|stop]`); only exact matches count. */
function parseNameRule(words: string[]): NameRewrite | undefined {
  if (words[0] !== 'name') return undefined;
  let i = 1;
  let type = 'exact';
  if (MATCH_TYPES.has(words[i] ?? '')) type = words[i++]!;
  const [from, to] = [words[i], words[i + 1]];
  if (type !== 'exact' || !from || !to || from === 'answer' || to === 'answer') return undefined;
  return { from: withoutRootDot(from), to: withoutRootDot(to) };
}

/**
 * Exact name rewrites of every `rewrite` plugin in a Corefile, in the one-line form
 * (`rewrite [continue|stop] name [exact] FROM TO [answer auto]`) and inside a
 * `rewrite [continue|stop] { ... }` block. Other fields and match types are ignored.
 */
export function parseCorefileRewrites(corefile: string): NameRewrite[] {
  const rewrites: NameRewrite[] = [];
  let depth = 0;
  let blockDepth = -1;
  for (const raw of corefile.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    const words = line.replace(/[{}]/g, ' ').trim().split(/\s+/);
    if (blockDepth < 0 && words[0] === 'rewrite') {
      let rule = words.slice(1);
      if (rule[0] === 'continue' || rule[0] === 'stop') rule = rule.slice(1);
      if (opens > 0) blockDepth = depth + 1;
      const r = parseNameRule(rule);
      if (r) rewrites.push(r);
    } else if (blockDepth >= 0 && depth === blockDepth) {
      const r = parseNameRule(words);
      if (r) rewrites.push(r);
    }
    depth += opens - closes;
    if (blockDepth >= 0 && depth < blockDepth) blockDepth = -1;
  }
  return rewrites;
}

/** What a pod's DNS knows besides its own cluster's records. */
export interface ExtraDns {
  /** Exact name rewrites of the cluster's Corefile. */
  rewrites?: NameRewrite[];
  /** The cloud's public names (load balancers that report a hostname); both clusters see all of them. */
  cloud?: HostEntry[];
}

/**
 * The rewrites as hosts lines: `FROM` gets the address `TO` resolves to through the Corefile's
 * hosts entries first (CoreDNS's plugin order), then the cloud DNS. A target that resolves
 * nowhere leaves its name unresolvable, as CoreDNS would answer NXDOMAIN.
 */
export function resolveRewrites(
  rewrites: NameRewrite[],
  corefileHosts: HostEntry[],
  cloud: HostEntry[],
): HostEntry[] {
  const lookup = (name: string) =>
    corefileHosts.find((e) => e.names.some((n) => withoutRootDot(n) === name))?.ip ??
    cloud.find((e) => e.names.some((n) => withoutRootDot(n) === name))?.ip;
  return rewrites.flatMap((r) => {
    const ip = lookup(r.to);
    return ip ? [{ ip, names: [r.from] }] : [];
  });
}

/** The pod with the IP its node gave its sandbox, which the API may not show yet. */
export function withPodIp(pod: V1Pod, ip: string): V1Pod {
  return { ...pod, status: { ...pod.status, podIP: ip } };
}

/**
 * The pods this node runs, as their DNS views are written: with the IP their sandbox has even
 * when the API does not show it yet, since kubelet's /etc/hosts names the pod from its start.
 * A refresh without it once made etcd's lookup of its own peer URL fail, and Go reads
 * /etc/hosts again only after 5 s: every learner started 5 s late.
 */
export function runningPodViews(
  running: { uid: string; netns: string; ip: string }[],
  pods: V1Pod[],
): { pod: V1Pod; netns: string }[] {
  const byUid = new Map(pods.map((p) => [p.metadata?.uid ?? '', p]));
  return running.flatMap(({ uid, netns, ip }) => {
    const pod = byUid.get(uid);
    return pod ? [{ pod: withPodIp(pod, ip), netns }] : [];
  });
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * What one pod resolves: its own names, the `<hostname>.<subdomain>` records of its
 * cluster's headless Services (ready pods only, unless the Service publishes
 * not-ready addresses, as CoreDNS does), the CoreDNS `hosts` entries and name rewrites, the
 * cloud DNS, and its own hostAliases.
 */
export function podHostsFile(
  pod: V1Pod,
  clusterPods: V1Pod[],
  services: V1Service[],
  corefileHosts: HostEntry[],
  extra: ExtraDns = {},
): string {
  const lines: string[] = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const ns = pod.metadata?.namespace ?? 'default';
  const own = pod.status?.podIP;
  const hostname = pod.spec?.hostname ?? pod.metadata?.name ?? '';
  if (own) {
    const sub = pod.spec?.subdomain;
    const names = sub
      ? [`${hostname}.${sub}.${ns}.svc.cluster.local`, `${hostname}.${sub}`, hostname]
      : [hostname];
    lines.push(`${own}\t${names.join(' ')}`);
  }
  const headless = new Map<string, V1Service>();
  for (const svc of services) {
    if (svc.spec?.clusterIP === 'None' && svc.metadata?.name && svc.metadata.namespace) {
      headless.set(`${svc.metadata.namespace}/${svc.metadata.name}`, svc);
    }
  }
  for (const other of clusterPods) {
    const ip = other.status?.podIP;
    const sub = other.spec?.subdomain;
    const ons = other.metadata?.namespace ?? 'default';
    if (!ip || !sub || other === pod || other.metadata?.uid === pod.metadata?.uid) continue;
    if (other.metadata?.deletionTimestamp) continue;
    const svc = headless.get(`${ons}/${sub}`);
    if (!svc) continue;
    if (!isReady(other) && !svc.spec?.publishNotReadyAddresses) continue;
    const h = other.spec?.hostname ?? other.metadata?.name ?? '';
    const names = [`${h}.${sub}.${ons}.svc.cluster.local`, `${h}.${sub}.${ons}.svc`];
    if (ons === ns) names.push(`${h}.${sub}.${ons}`, `${h}.${sub}`);
    lines.push(`${ip}\t${names.join(' ')}`);
  }
  // CoreDNS runs `rewrite` before `hosts` whatever the Corefile's order; the first line wins here.
  const cloud = extra.cloud ?? [];
  const rewritten = resolveRewrites(extra.rewrites ?? [], corefileHosts, cloud);
  if (rewritten.length) {
    lines.push('# cluster DNS: kube-system/coredns rewrite name');
    for (const e of rewritten) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  }
  if (corefileHosts.length) {
    lines.push('# cluster DNS: kube-system/coredns hosts');
    for (const e of corefileHosts) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  }
  if (cloud.length) {
    lines.push('# cloud DNS: load-balancer hostnames');
    for (const e of cloud) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  }
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length) {
    lines.push('# hostAliases');
    for (const a of aliases) if (a.ip && a.hostnames?.length) lines.push(`${a.ip}\t${a.hostnames.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
