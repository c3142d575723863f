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

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * What one pod resolves: its own names, the `<hostname>.<subdomain>` records of its
 * cluster's headless Services (ready pods only, unless the Service publishes
 * not-ready addresses, as CoreDNS does), the CoreDNS `hosts` entries, and its own hostAliases.
 */
export function podHostsFile(
  pod: V1Pod,
  clusterPods: V1Pod[],
  services: V1Service[],
  corefileHosts: HostEntry[],
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
  if (corefileHosts.length) {
    lines.push('# cluster DNS: kube-system/coredns hosts');
    for (const e of corefileHosts) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  }
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length) {
    lines.push('# hostAliases');
    for (const a of aliases) if (a.ip && a.hostnames?.length) lines.push(`${a.ip}\t${a.hostnames.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
