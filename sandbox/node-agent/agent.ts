import fs from 'node:fs';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  CoreV1Api,
  PatchStrategy,
  StorageV1Api,
  Watch,
  setHeaderOptions,
  type V1ConfigMap,
  type V1Node,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { cloudDnsEntries } from '../cloud-dns.js';
import type { ClusterLayout } from '../config.js';
import { forwardOnGateway, type GatewayForwarder } from '../gateway-forwarder.js';
import { gatewayOf, writePodHosts } from '../network.js';
import { readTopology } from '../topology.js';
import { readNetnsRegistrations, registeredPod } from '../registered-netns.js';
import { DelayedCorefile } from './delayed-corefile.js';
import {
  parseCorefileHosts,
  parseCorefileRewrites,
  podHostsFile,
  runningPodViews,
  withPodIp,
} from './dns-view.js';
import { LoadBalancers } from './load-balancer.js';
import { PodRuntime } from './pod-runtime.js';
import { chooseNode } from './scheduler.js';

export const STORAGE_CLASS = 'sandbox-host-dir';
export const PROVISIONER = 'sandbox.etcd-stretch.io/host-dir';

interface Snapshot {
  nodes: V1Node[];
  pods: V1Pod[];
  pvcs: V1PersistentVolumeClaim[];
  pvs: V1PersistentVolume[];
  services: V1Service[];
  corefile: string;
}

/** One cluster's nodes: scheduler, volume provisioner, container runtime, load balancers and DNS. */
export class NodeAgent {
  private readonly core: CoreV1Api;
  private readonly storage: StorageV1Api;
  private readonly runtime: PodRuntime;
  private readonly lbs: LoadBalancers;
  private snapshot?: Snapshot;
  private reconciling = false;
  private again = false;
  private stopped = false;
  private watches: AbortController[] = [];
  private timer?: NodeJS.Timeout;
  private readonly corefile = new DelayedCorefile((m) => this.log(m));
  private corefileTimer?: NodeJS.Timeout;
  private topologySeen?: string;
  private apiserverForwarder?: GatewayForwarder;

  constructor(
    private readonly layout: ClusterLayout,
    private readonly kc: KubeConfig,
    private readonly dir: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.storage = kc.makeApiClient(StorageV1Api);
    const log = (m: string) => this.log(m);
    this.lbs = new LoadBalancers(layout, this.core, log);
    this.runtime = new PodRuntime({
      layout,
      api: this.core,
      dir,
      log,
      event: (pod, type, reason, message) => this.event(pod, type, reason, message),
      claimPath: (ns, claim) => this.claimPath(ns, claim),
      readSecret: async (ns, name) => {
        const s = await this.core.readNamespacedSecret({ name, namespace: ns }).catch(() => undefined);
        return (
          s && Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]))
        );
      },
      readConfigMap: async (ns, name) =>
        (await this.core.readNamespacedConfigMap({ name, namespace: ns }).catch(() => undefined))?.data,
      changed: () => this.trigger(),
      hostsFile: (pod, ip) => {
        const snap = this.snapshot;
        return this.hostsFile(withPodIp(pod, ip), snap?.pods ?? [], snap?.services ?? []);
      },
    });
  }

  /** A pod's DNS view: its cluster's records, the Corefile the pods see now, and the cloud DNS. */
  private hostsFile(pod: V1Pod, pods: V1Pod[], services: V1Service[]): string {
    const corefile = this.corefile.applied;
    return podHostsFile(pod, pods, services, parseCorefileHosts(corefile), {
      rewrites: parseCorefileRewrites(corefile),
      cloud: cloudDnsEntries(),
    });
  }

  log(msg: string): void {
    process.stdout.write(`${new Date().toISOString()} [${this.layout.name}] ${msg}\n`);
  }

  async start(): Promise<void> {
    // The cluster's API server for its pods and worker, as the `kubernetes` Service would be.
    this.apiserverForwarder = await forwardOnGateway(this.layout, this.layout.apiserverPort, {
      host: '127.0.0.1',
      port: this.layout.apiserverPort,
    });
    await this.registerNodes();
    await this.ensureStorageClass();
    for (const [p, query] of [
      ['/api/v1/pods', {}],
      ['/api/v1/services', {}],
      ['/api/v1/persistentvolumeclaims', {}],
      ['/api/v1/namespaces/kube-system/configmaps', { fieldSelector: 'metadata.name=coredns' }],
    ] as const) {
      this.watch(p, query);
    }
    this.timer = setInterval(() => this.trigger(), 2000);
    this.trigger();
  }

  private watch(p: string, query: Record<string, string>): void {
    if (this.stopped) return;
    const w = new Watch(this.kc);
    w.watch(
      p,
      query,
      () => this.trigger(),
      () => setTimeout(() => this.watch(p, query), 500),
    )
      .then((c) => this.watches.push(c))
      .catch(() => setTimeout(() => this.watch(p, query), 1000));
  }

  trigger(): void {
    if (this.stopped) return;
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    void this.reconcile()
      .catch((err) => this.log(`reconcile: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        this.reconciling = false;
        if (this.again) {
          this.again = false;
          setTimeout(() => this.trigger(), 20);
        }
      });
  }

  private async registerNodes(): Promise<void> {
    for (const name of this.layout.nodes) {
      const existing = await this.core.readNode({ name }).catch(() => undefined);
      if (!existing) {
        await this.core.createNode({
          body: {
            metadata: {
              name,
              labels: {
                'kubernetes.io/hostname': name,
                'kubernetes.io/os': 'linux',
                'kubernetes.io/arch': 'amd64',
                'topology.kubernetes.io/zone': `${this.layout.name}-${name}`,
              },
            },
          },
        });
      }
      const now = new Date();
      await this.core.patchNodeStatus(
        {
          name,
          body: {
            status: {
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'SandboxNodeReady',
                  lastHeartbeatTime: now,
                  lastTransitionTime: now,
                },
              ],
              addresses: [
                { type: 'InternalIP', address: gatewayOf(this.layout) },
                { type: 'Hostname', address: name },
              ],
              capacity: { cpu: '2', memory: '8Gi', pods: '110' },
              allocatable: { cpu: '2', memory: '8Gi', pods: '110' },
              nodeInfo: {
                kubeletVersion: 'sandbox',
                kubeProxyVersion: '',
                architecture: 'amd64',
                operatingSystem: 'linux',
                bootID: '',
                containerRuntimeVersion: 'etcd-stretch-sandbox',
                kernelVersion: '',
                machineID: '',
                osImage: 'sandbox',
                systemUUID: '',
              },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  }

  private async ensureStorageClass(): Promise<void> {
    const existing = await this.storage.readStorageClass({ name: STORAGE_CLASS }).catch(() => undefined);
    if (existing) return;
    await this.storage.createStorageClass({
      body: {
        metadata: {
          name: STORAGE_CLASS,
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: PROVISIONER,
        reclaimPolicy: 'Retain',
        volumeBindingMode: 'Immediate',
      },
    });
  }

  private async reconcile(): Promise<void> {
    const [nodes, pods, pvcs, pvs, services, coredns] = await Promise.all([
      this.core.listNode(),
      this.core.listPodForAllNamespaces(),
      this.core.listPersistentVolumeClaimForAllNamespaces(),
      this.core.listPersistentVolume(),
      this.core.listServiceForAllNamespaces(),
      this.core
        .readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })
        .catch(() => undefined as V1ConfigMap | undefined),
    ]);
    const snap: Snapshot = {
      nodes: nodes.items,
      pods: pods.items,
      pvcs: pvcs.items,
      pvs: pvs.items,
      services: services.items,
      corefile: coredns?.data?.Corefile ?? '',
    };
    this.snapshot = snap;
    const topology = readTopology();
    const seen = JSON.stringify(topology);
    if (seen !== this.topologySeen) this.log(`topology ${(this.topologySeen = seen)}`);
    // A failed read keeps the Corefile the pods see, as a running CoreDNS would.
    if (coredns) this.corefile.observe(snap.corefile, topology.dnsDelayS);
    const due = this.corefile.nextDueInMs();
    clearTimeout(this.corefileTimer);
    if (due !== undefined) this.corefileTimer = setTimeout(() => this.trigger(), due + 10);
    await this.provisionVolumes(snap);
    await this.schedule(snap);
    await this.runtime.sync(snap.pods, new Set(this.layout.nodes));
    this.refreshDns(snap);
    await this.lbs.reconcile(snap.services, snap.pods, topology);
  }

  /** Dynamic provisioning: a host directory per claim, kept after the claim is released (reclaim policy Retain). */
  private async provisionVolumes(snap: Snapshot): Promise<void> {
    for (const pvc of snap.pvcs) {
      if (pvc.spec?.volumeName || pvc.status?.phase !== 'Pending' || pvc.metadata?.deletionTimestamp)
        continue;
      const cls = pvc.spec?.storageClassName ?? STORAGE_CLASS;
      if (cls !== STORAGE_CLASS && !cls.startsWith('sandbox')) continue;
      const name = `pvc-${pvc.metadata!.uid}`;
      if (snap.pvs.some((pv) => pv.metadata?.name === name)) continue;
      const hostPath = path.join(
        this.dir,
        'volumes',
        `${pvc.metadata!.namespace}_${pvc.metadata!.name}_${pvc.metadata!.uid!.slice(0, 8)}`,
      );
      fs.mkdirSync(hostPath, { recursive: true });
      await this.core.createPersistentVolume({
        body: {
          metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
          spec: {
            capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: cls,
            hostPath: { path: hostPath, type: 'Directory' },
            claimRef: {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              namespace: pvc.metadata!.namespace!,
              name: pvc.metadata!.name!,
              uid: pvc.metadata!.uid!,
            },
          },
        },
      });
      this.log(`provisioned ${name} for ${pvc.metadata!.namespace}/${pvc.metadata!.name} at ${hostPath}`);
    }
  }

  private claimPath(ns: string, claim: string): { path: string } | { waiting: string } {
    const pvc = this.snapshot?.pvcs.find((c) => c.metadata?.namespace === ns && c.metadata?.name === claim);
    if (!pvc) return { waiting: `persistentvolumeclaim "${claim}" not found` };
    if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName)
      return { waiting: `persistentvolumeclaim "${claim}" is not bound` };
    const pv = this.snapshot?.pvs.find((v) => v.metadata?.name === pvc.spec?.volumeName);
    const hostPath = pv?.spec?.hostPath?.path;
    if (!hostPath) return { waiting: `persistentvolume "${pvc.spec.volumeName}" has no host directory` };
    fs.mkdirSync(hostPath, { recursive: true });
    return { path: hostPath };
  }

  private async schedule(snap: Snapshot): Promise<void> {
    const ours = snap.nodes.filter((n) => this.layout.nodes.includes(n.metadata?.name ?? ''));
    const pending = snap.pods.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp);
    for (const pod of pending) {
      const choice = chooseNode(pod, ours, snap.pods);
      if ('reason' in choice) {
        const already = pod.status?.conditions?.some(
          (c) => c.type === 'PodScheduled' && c.message === choice.reason,
        );
        if (!already) {
          await this.core.patchNamespacedPodStatus(
            {
              name: pod.metadata!.name!,
              namespace: pod.metadata!.namespace!,
              body: {
                status: {
                  conditions: [
                    {
                      type: 'PodScheduled',
                      status: 'False',
                      reason: 'Unschedulable',
                      message: choice.reason,
                      lastTransitionTime: new Date(),
                    },
                  ],
                },
              },
            },
            setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
          );
          await this.event(pod, 'Warning', 'FailedScheduling', choice.reason);
        }
        continue;
      }
      await this.core.createNamespacedPodBinding({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          metadata: { name: pod.metadata!.name!, namespace: pod.metadata!.namespace! },
          target: { apiVersion: 'v1', kind: 'Node', name: choice.node },
        },
      });
      pod.spec!.nodeName = choice.node;
      await this.event(
        pod,
        'Normal',
        'Scheduled',
        `Successfully assigned ${pod.metadata!.namespace}/${pod.metadata!.name} to ${choice.node}`,
      );
    }
  }

  private refreshDns(snap: Snapshot): void {
    const views = runningPodViews(this.runtime.running(), snap.pods);
    // The worker's and client namespaces (sandbox/registered-netns.ts) see what a pod in theirs would.
    for (const reg of readNetnsRegistrations(this.dir))
      views.push({ pod: registeredPod(reg), netns: reg.netns });
    for (const { pod, netns } of views) {
      writePodHosts(netns, this.hostsFile(pod, snap.pods, snap.services));
    }
  }

  async event(pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.core
      .createNamespacedEvent({
        namespace: pod.metadata!.namespace!,
        body: {
          metadata: { generateName: `${pod.metadata!.name}.`, namespace: pod.metadata!.namespace! },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.metadata!.name!,
            namespace: pod.metadata!.namespace!,
            uid: pod.metadata!.uid!,
          },
          reason,
          message,
          type,
          source: { component: 'sandbox-node-agent', host: pod.spec?.nodeName },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch((err: unknown) => this.log(`event ${reason}: ${String(err)}`));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.corefileTimer);
    for (const w of this.watches) w.abort();
    await this.runtime.stopAll(3000);
    await this.lbs.closeAll();
    await this.apiserverForwarder?.close();
  }
}
