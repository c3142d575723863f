import net from 'node:net';
import type { CoreV1Api, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { readCloudDnsRecords, writeCloudDnsRecords } from '../cloud-dns.js';
import type { ClusterLayout, ClusterName } from '../config.js';
import { addLbAddress, removeLbAddress } from '../network.js';
import { KIND_TOPOLOGY, type SandboxTopology } from '../topology.js';
import { ShapedPipe, UNSHAPED } from './link-shaper.js';
import { matchesSelector } from './scheduler.js';

/** Annotation of the sandbox's fault hook: `drop`, `reset` or `delay=<ms>`. */
export const LB_FAULT_ANNOTATION = 'sandbox.etcd-stretch.io/fault';
const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';

type Fault = { kind: 'none' } | { kind: 'drop' } | { kind: 'reset' } | { kind: 'delay'; ms: number };

export function parseFault(value: string | undefined): Fault {
  if (!value) return { kind: 'none' };
  if (value === 'drop' || value === 'reset') return { kind: value };
  const m = /^delay=(\d+)(ms)?$/.exec(value);
  if (m) return { kind: 'delay', ms: Number(m[1]) };
  return { kind: 'none' };
}

export function sourceRanges(svc: V1Service): string[] {
  const fromSpec = svc.spec?.loadBalancerSourceRanges ?? [];
  if (fromSpec.length) return fromSpec;
  const ann = svc.metadata?.annotations?.[SOURCE_RANGES_ANNOTATION];
  return ann
    ? ann
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

export function allowedBy(ranges: string[], address: string): boolean {
  if (ranges.length === 0) return true;
  const list = new net.BlockList();
  const ip = address.replace(/^::ffff:/, '');
  for (const r of ranges) {
    const [base, bits] = r.split('/');
    if (!base || bits === undefined || !net.isIP(base)) continue;
    list.addSubnet(base, Number(bits), net.isIPv6(base) ? 'ipv6' : 'ipv4');
  }
  return list.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4');
}

/**
 * Whether a client reaches this cluster's load balancer across the link between the clusters:
 * every client outside the cluster's own pod network is. That is the other cluster's pods and
 * the host too (the host stands for "somewhere else on the internet", outside both clouds).
 */
export function crossesTheLink(layout: ClusterLayout, address: string): boolean {
  return !allowedBy([layout.podSubnet], address);
}

/** An AWS-style load-balancer name: one DNS label of at most 63 characters under the cluster's cloud. */
export function lbHostname(cluster: ClusterName, svc: V1Service): string {
  const id = (svc.metadata?.uid ?? '').replace(/-/g, '').slice(0, 6);
  const label = `${id}-${svc.metadata?.name ?? ''}-${svc.metadata?.namespace ?? ''}`
    .slice(0, 63)
    .replace(/-+$/, '');
  return `${label}.elb.${cluster}.sandbox.test`;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

interface Balancer {
  uid: string;
  ip: string;
  /** Set when the cloud reports this load balancer by name; the name resolves through the cloud DNS. */
  hostname?: string;
  svc: V1Service;
  servers: Map<number, net.Server>;
  connections: Set<net.Socket>;
  fault: Fault;
}

/** The cluster's "cloud": one IP per LoadBalancer Service and a TCP proxy to the selected pod. */
export class LoadBalancers {
  private balancers = new Map<string, Balancer>();
  private pods: V1Pod[] = [];
  private topology: SandboxTopology = KIND_TOPOLOGY;
  private publishedDns?: string;

  constructor(
    private readonly layout: ClusterLayout,
    private readonly api: CoreV1Api,
    private readonly log: (msg: string) => void,
  ) {}

  private pool(): { first: number; last: number } {
    const base = ipToInt(this.layout.lbSubnet.split('/')[0]!);
    return { first: base + 10, last: base + 250 };
  }

  private allocate(svc: V1Service): string {
    const used = new Set([...this.balancers.values()].map((b) => b.ip));
    const { first, last } = this.pool();
    const ingress = svc.status?.loadBalancer?.ingress?.[0];
    const previous =
      ingress?.ip ??
      (ingress?.hostname ? readCloudDnsRecords(this.layout.name)[ingress.hostname] : undefined);
    if (previous && !used.has(previous) && ipToInt(previous) >= first && ipToInt(previous) <= last)
      return previous;
    for (let n = first; n <= last; n++) if (!used.has(intToIp(n))) return intToIp(n);
    throw new Error(`load-balancer pool ${this.layout.lbSubnet} exhausted`);
  }

  /** The kind of address is decided once, when the load balancer is allocated (a status already written wins). */
  private hostnameFor(svc: V1Service): string | undefined {
    const ingress = svc.status?.loadBalancer?.ingress?.[0];
    if (ingress?.hostname) return ingress.hostname;
    if (ingress?.ip) return undefined;
    return this.topology.lbAddressKind[this.layout.name] === 'hostname'
      ? lbHostname(this.layout.name, svc)
      : undefined;
  }

  private publishCloudDns(): void {
    const records = Object.fromEntries(
      [...this.balancers.values()].filter((b) => b.hostname).map((b) => [b.hostname!, b.ip]),
    );
    const json = JSON.stringify(records);
    if (json === this.publishedDns) return;
    writeCloudDnsRecords(this.layout.name, records);
    this.publishedDns = json;
  }

  async reconcile(services: V1Service[], pods: V1Pod[], topology: SandboxTopology): Promise<void> {
    this.pods = pods;
    this.topology = topology;
    const wanted = new Map<string, V1Service>();
    for (const s of services) {
      if (s.spec?.type === 'LoadBalancer' && s.metadata?.uid && !s.metadata.deletionTimestamp)
        wanted.set(s.metadata.uid, s);
    }
    for (const [uid, b] of this.balancers) if (!wanted.has(uid)) await this.release(b);
    for (const [uid, svc] of wanted) {
      let b = this.balancers.get(uid);
      if (!b) {
        const ip = this.allocate(svc);
        const hostname = this.hostnameFor(svc);
        await addLbAddress(ip);
        b = { uid, ip, hostname, svc, servers: new Map(), connections: new Set(), fault: { kind: 'none' } };
        this.balancers.set(uid, b);
        this.log(
          `load balancer ${svc.metadata?.namespace}/${svc.metadata?.name} -> ${ip}${hostname ? ` (${hostname})` : ''}`,
        );
      }
      b.svc = svc;
      const fault = parseFault(svc.metadata?.annotations?.[LB_FAULT_ANNOTATION]);
      if (fault.kind !== b.fault.kind && (fault.kind === 'drop' || fault.kind === 'reset')) {
        for (const c of b.connections) c.destroy();
      }
      // Fault runs wait for this line: the fault is in effect from here on.
      if (fault.kind !== b.fault.kind)
        this.log(`load balancer ${svc.metadata?.namespace}/${svc.metadata?.name} fault ${fault.kind}`);
      b.fault = fault;
      await this.ensureListeners(b);
      // The name resolves before anyone can read it from the status.
      this.publishCloudDns();
      const ingress = svc.status?.loadBalancer?.ingress ?? [];
      const current = ingress.length === 1 ? ingress[0] : undefined;
      const upToDate = b.hostname
        ? current?.hostname === b.hostname && !current.ip
        : current?.ip === b.ip && !current.hostname;
      if (!upToDate) {
        await this.api.patchNamespacedServiceStatus(
          {
            name: svc.metadata!.name!,
            namespace: svc.metadata!.namespace!,
            body: {
              status: {
                loadBalancer: {
                  ingress: [b.hostname ? { hostname: b.hostname } : { ip: b.ip, ipMode: 'VIP' }],
                },
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      }
    }
  }

  private async ensureListeners(b: Balancer): Promise<void> {
    const ports = new Map((b.svc.spec?.ports ?? []).map((p) => [p.port, p]));
    for (const [port, server] of b.servers) {
      if (!ports.has(port)) {
        server.close();
        b.servers.delete(port);
      }
    }
    for (const port of ports.keys()) {
      if (b.servers.has(port)) continue;
      const server = net.createServer((socket) => this.accept(b, port, socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, b.ip, () => resolve());
      });
      b.servers.set(port, server);
    }
  }

  private backend(b: Balancer, port: V1ServicePort): { ip: string; port: number } | undefined {
    const selector = b.svc.spec?.selector;
    if (!selector) return undefined;
    const publishNotReady = b.svc.spec?.publishNotReadyAddresses ?? false;
    const candidates = this.pods
      .filter((p) => p.metadata?.namespace === b.svc.metadata?.namespace && !p.metadata?.deletionTimestamp)
      .filter((p) => matchesSelector(p.metadata?.labels, { matchLabels: selector }))
      .filter((p) => p.status?.podIP && p.status.phase === 'Running')
      .filter(
        (p) =>
          publishNotReady || p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      )
      .sort((x, y) => (x.metadata?.name ?? '').localeCompare(y.metadata?.name ?? ''));
    const pod = candidates[0];
    if (!pod) return undefined;
    let target = port.targetPort ?? port.port;
    if (typeof target === 'string') {
      const named = pod.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === target);
      if (!named) return undefined;
      target = named.containerPort;
    }
    return { ip: pod.status!.podIP!, port: Number(target) };
  }

  private accept(b: Balancer, port: number, client: net.Socket): void {
    const remote = client.remoteAddress ?? '';
    if (!allowedBy(sourceRanges(b.svc), remote) || b.fault.kind === 'reset') {
      client.resetAndDestroy();
      return;
    }
    b.connections.add(client);
    client.on('close', () => b.connections.delete(client));
    client.on('error', () => client.destroy());
    if (b.fault.kind === 'drop') return; // accepted, never answered: like packets dropped on the floor
    const svcPort = b.svc.spec?.ports?.find((p) => p.port === port);
    const target = svcPort ? this.backend(b, svcPort) : undefined;
    if (!target) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.ip, port: target.port });
    b.connections.add(upstream);
    upstream.on('error', () => upstream.destroy());
    // Both directions go through the shaper: the link (for clients across it) and the fault
    // hook's delay are read per chunk, so a change reaches connections already open.
    const across = crossesTheLink(this.layout, remote);
    const opts = {
      shape: () => (across ? this.topology.link : UNSHAPED),
      extraDelayMs: () => (b.fault.kind === 'delay' ? b.fault.ms : 0),
    };
    const toUpstream = new ShapedPipe(client, upstream, opts);
    const toClient = new ShapedPipe(upstream, client, opts);
    const closeAfterFlush = (pipe: ShapedPipe, peer: net.Socket) => (hadError: boolean) => {
      if (hadError) {
        pipe.stop();
        peer.destroy();
        return;
      }
      // What is still on the link reaches the peer before it is closed.
      pipe.whenFlushed(() => {
        peer.end(() => peer.destroy());
        setTimeout(() => peer.destroy(), 30_000).unref();
      });
    };
    client.on('close', closeAfterFlush(toUpstream, upstream));
    upstream.on('close', (hadError) => {
      b.connections.delete(upstream);
      closeAfterFlush(toClient, client)(hadError);
    });
    client.on('close', () => toClient.stop());
    upstream.on('close', () => toUpstream.stop());
  }

  private async release(b: Balancer): Promise<void> {
    for (const s of b.servers.values()) s.close();
    for (const c of b.connections) c.destroy();
    this.balancers.delete(b.uid);
    this.publishCloudDns();
    await removeLbAddress(b.ip);
    this.log(`load balancer ${b.svc.metadata?.namespace}/${b.svc.metadata?.name} released ${b.ip}`);
  }

  async closeAll(): Promise<void> {
    for (const b of [...this.balancers.values()]) await this.release(b);
  }
}
