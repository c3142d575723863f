import net from 'node:net';
import type { CoreV1Api, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ClusterLayout } from '../config.js';
import { addLbAddress, removeLbAddress } from '../network.js';
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

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

interface Balancer {
  uid: string;
  ip: string;
  svc: V1Service;
  servers: Map<number, net.Server>;
  connections: Set<net.Socket>;
  fault: Fault;
}

/** The cluster's "cloud": one IP per LoadBalancer Service and a TCP proxy to the selected pod. */
export class LoadBalancers {
  private balancers = new Map<string, Balancer>();
  private pods: V1Pod[] = [];

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
    const previous = svc.status?.loadBalancer?.ingress?.[0]?.ip;
    if (previous && !used.has(previous) && ipToInt(previous) >= first && ipToInt(previous) <= last)
      return previous;
    for (let n = first; n <= last; n++) if (!used.has(intToIp(n))) return intToIp(n);
    throw new Error(`load-balancer pool ${this.layout.lbSubnet} exhausted`);
  }

  async reconcile(services: V1Service[], pods: V1Pod[]): Promise<void> {
    this.pods = pods;
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
        await addLbAddress(ip);
        b = { uid, ip, svc, servers: new Map(), connections: new Set(), fault: { kind: 'none' } };
        this.balancers.set(uid, b);
        this.log(`load balancer ${svc.metadata?.namespace}/${svc.metadata?.name} -> ${ip}`);
      }
      b.svc = svc;
      const fault = parseFault(svc.metadata?.annotations?.[LB_FAULT_ANNOTATION]);
      if (fault.kind !== b.fault.kind && (fault.kind === 'drop' || fault.kind === 'reset')) {
        for (const c of b.connections) c.destroy();
      }
      b.fault = fault;
      await this.ensureListeners(b);
      const ingress = svc.status?.loadBalancer?.ingress ?? [];
      if (ingress.length !== 1 || ingress[0]?.ip !== b.ip) {
        await this.api.patchNamespacedServiceStatus(
          {
            name: svc.metadata!.name!,
            namespace: svc.metadata!.namespace!,
            body: { status: { loadBalancer: { ingress: [{ ip: b.ip, ipMode: 'VIP' }] } } },
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
    upstream.on('close', () => {
      b.connections.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    const delay = b.fault.kind === 'delay' ? b.fault.ms : 0;
    if (delay > 0) {
      let last = 0;
      const delayed = (to: net.Socket) => (chunk: Buffer) => {
        const at = Math.max(Date.now() + delay, last);
        last = at;
        setTimeout(() => to.write(chunk), at - Date.now());
      };
      client.on('data', delayed(upstream));
      upstream.on('data', delayed(client));
    } else {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  }

  private async release(b: Balancer): Promise<void> {
    for (const s of b.servers.values()) s.close();
    for (const c of b.connections) c.destroy();
    this.balancers.delete(b.uid);
    await removeLbAddress(b.ip);
    this.log(`load balancer ${b.svc.metadata?.namespace}/${b.svc.metadata?.name} released ${b.ip}`);
  }

  async closeAll(): Promise<void> {
    for (const b of [...this.balancers.values()]) await this.release(b);
  }
}
