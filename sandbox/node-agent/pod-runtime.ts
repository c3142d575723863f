import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CoreV1Api, V1Container, V1ContainerStatus, V1Pod, V1Volume } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { NETNS_PREFIX, type ClusterLayout } from '../config.js';
import { createPodNetwork, deletePodNetwork, gatewayOf, writePodHosts } from '../network.js';
import { resolveImage } from './image-map.js';
import { runProbe, type ProbeResult } from './probes.js';

export interface RuntimeDeps {
  layout: ClusterLayout;
  api: CoreV1Api;
  dir: string;
  log: (msg: string) => void;
  event: (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string) => Promise<void>;
  /** Host directory backing a bound PVC, or why it is not usable yet. */
  claimPath: (namespace: string, claim: string) => { path: string } | { waiting: string };
  readSecret: (namespace: string, name: string) => Promise<Record<string, Buffer> | undefined>;
  readConfigMap: (namespace: string, name: string) => Promise<Record<string, string> | undefined>;
  /** Readiness or addresses changed: DNS views and load balancers need a look. */
  changed: () => void;
  /** The pod's current view of cluster DNS (its /etc/hosts), written before its containers start. */
  hostsFile: (pod: V1Pod, ip: string) => string;
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BACKOFF_MS = [1000, 2000, 4000, 8000, 10_000];

/** The network namespace a pod runs in: tests and tools enter it with `ip netns exec`. */
export function podNetnsName(cluster: string, podUid: string): string {
  return `${NETNS_PREFIX}${cluster}-${shortId(cluster, podUid)}`;
}

function shortId(cluster: string, podUid: string): string {
  return crypto.createHash('sha256').update(`${cluster}/${podUid}`).digest('hex').slice(0, 8);
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

interface ContainerRun {
  spec: V1Container;
  child?: ChildProcess;
  restartCount: number;
  startedAt?: string;
  state: V1ContainerStatus['state'];
  lastState?: V1ContainerStatus['lastState'];
  ready: boolean;
  probeTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
  env: Record<string, string>;
  mounts: { source: string; target: string; readOnly: boolean }[];
  binDir?: string;
  imageError?: string;
}

interface PodSandbox {
  uid: string;
  pod: V1Pod;
  netns: string;
  hostVeth: string;
  ip?: string;
  dir: string;
  containers: Map<string, ContainerRun>;
  terminating: boolean;
  startTime: string;
  waitingReason?: string;
  lastStatus?: string;
}

/** Runs pods bound to this cluster's nodes as local processes in their own network namespaces. */
export class PodRuntime {
  private sandboxes = new Map<string, PodSandbox>();
  private starting = new Set<string>();
  private nextIp = 10;

  constructor(private readonly deps: RuntimeDeps) {}

  podIps(): Map<string, string> {
    return new Map([...this.sandboxes.values()].filter((s) => s.ip).map((s) => [s.uid, s.ip!]));
  }

  netnsOf(uid: string): string | undefined {
    return this.sandboxes.get(uid)?.netns;
  }

  running(): { uid: string; netns: string; ip: string }[] {
    return [...this.sandboxes.values()].flatMap((s) =>
      s.ip ? [{ uid: s.uid, netns: s.netns, ip: s.ip }] : [],
    );
  }

  async sync(pods: V1Pod[], nodeNames: Set<string>): Promise<void> {
    const present = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid || !pod.spec?.nodeName || !nodeNames.has(pod.spec.nodeName)) continue;
      present.add(uid);
      const sb = this.sandboxes.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        if (sb && !sb.terminating) void this.terminate(sb, this.gracePeriodMs(pod), true);
        else if (!sb && !this.starting.has(uid)) await this.forceDelete(pod);
        continue;
      }
      if (sb) {
        sb.pod = pod;
        if (!sb.ip && !this.starting.has(uid)) await this.start(sb);
        else if (sb.ip && !this.starting.has(uid)) await this.resyncStatus(sb, pod);
        continue;
      }
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      const fresh = this.newSandbox(pod);
      this.sandboxes.set(uid, fresh);
      await this.start(fresh);
    }
    for (const sb of [...this.sandboxes.values()]) {
      if (!present.has(sb.uid) && !sb.terminating) void this.terminate(sb, 2000, false);
    }
  }

  private gracePeriodMs(pod: V1Pod): number {
    const s = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    return s * 1000;
  }

  private newSandbox(pod: V1Pod): PodSandbox {
    const uid = pod.metadata!.uid!;
    const short = shortId(this.deps.layout.name, uid);
    const dir = path.join(
      this.deps.dir,
      'pods',
      `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid.slice(0, 8)}`,
    );
    fs.mkdirSync(dir, { recursive: true });
    return {
      uid,
      pod,
      netns: podNetnsName(this.deps.layout.name, uid),
      hostVeth: `${NETNS_PREFIX}${short}`,
      dir,
      containers: new Map(),
      terminating: false,
      startTime: new Date().toISOString(),
    };
  }

  private allocateIp(): string {
    const used = new Set(this.podIps().values());
    const base = this.deps.layout.podSubnet.replace(/\.0\/24$/, '.');
    for (let i = 0; i < 240; i++) {
      const n = 10 + ((this.nextIp - 10 + i) % 240);
      const ip = `${base}${n}`;
      if (!used.has(ip)) {
        this.nextIp = n + 1;
        return ip;
      }
    }
    throw new Error(`pod subnet ${this.deps.layout.podSubnet} exhausted`);
  }

  /** Prepares volumes and images; creates the network and starts containers once everything is there. */
  private async start(sb: PodSandbox): Promise<void> {
    this.starting.add(sb.uid);
    try {
      const pod = sb.pod;
      const volumes = new Map<string, string>();
      for (const v of pod.spec?.volumes ?? []) {
        const resolved = await this.prepareVolume(sb, v);
        if (resolved === undefined) continue;
        if ('waiting' in resolved) {
          sb.waitingReason = resolved.waiting;
          await this.writeStatus(sb);
          return;
        }
        volumes.set(v.name, resolved.path);
      }
      sb.waitingReason = undefined;
      let imageFailed = false;
      for (const c of pod.spec?.containers ?? []) {
        const run = this.containerRun(sb, c);
        const image = resolveImage(c.image ?? '');
        if (!image.ok) {
          if (run.imageError !== image.reason) {
            run.imageError = image.reason;
            await this.deps.event(
              pod,
              'Warning',
              'Failed',
              `Failed to pull image "${c.image}": ${image.reason}`,
            );
          }
          run.state = { waiting: { reason: 'ErrImagePull', message: image.reason } };
          imageFailed = true;
          continue;
        }
        run.imageError = undefined;
        run.binDir = path.join(sb.dir, `bin-${c.name}`);
        fs.rmSync(run.binDir, { recursive: true, force: true });
        fs.mkdirSync(run.binDir, { recursive: true });
        for (const [name, target] of Object.entries(image.binDir))
          fs.symlinkSync(target, path.join(run.binDir, name));
        run.mounts = [];
        for (const m of c.volumeMounts ?? []) {
          const source = volumes.get(m.name);
          if (source) run.mounts.push({ source, target: m.mountPath, readOnly: m.readOnly ?? false });
        }
      }
      if (imageFailed) {
        await this.writeStatus(sb);
        return;
      }
      sb.ip = this.allocateIp();
      await createPodNetwork(this.deps.layout, sb.netns, sb.hostVeth, sb.ip);
      writePodHosts(sb.netns, this.deps.hostsFile(pod, sb.ip));
      for (const c of pod.spec?.containers ?? []) {
        const run = sb.containers.get(c.name)!;
        run.env = await this.containerEnv(sb, c);
        this.launch(sb, run);
      }
      await this.writeStatus(sb);
      this.deps.changed();
    } finally {
      this.starting.delete(sb.uid);
    }
  }

  private containerRun(sb: PodSandbox, spec: V1Container): ContainerRun {
    let run = sb.containers.get(spec.name);
    if (!run) {
      run = {
        spec,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
        ready: false,
        env: {},
        mounts: [],
      };
      sb.containers.set(spec.name, run);
    }
    return run;
  }

  private async prepareVolume(
    sb: PodSandbox,
    v: V1Volume,
  ): Promise<{ path: string } | { waiting: string } | undefined> {
    const ns = sb.pod.metadata!.namespace!;
    const local = path.join(sb.dir, 'volumes', v.name);
    if (v.persistentVolumeClaim) return this.deps.claimPath(ns, v.persistentVolumeClaim.claimName);
    if (v.emptyDir) {
      fs.mkdirSync(local, { recursive: true });
      return { path: local };
    }
    if (v.hostPath) return { path: v.hostPath.path };
    if (v.secret || v.configMap) {
      const files: Record<string, Buffer> | undefined = v.secret
        ? await this.deps.readSecret(ns, v.secret.secretName ?? '')
        : await this.deps
            .readConfigMap(ns, v.configMap!.name ?? '')
            .then((d) => d && Object.fromEntries(Object.entries(d).map(([k, s]) => [k, Buffer.from(s)])));
      const optional = v.secret?.optional ?? v.configMap?.optional ?? false;
      if (!files && !optional)
        return { waiting: `${v.secret ? 'secret' : 'configmap'} for volume ${v.name} not found` };
      fs.mkdirSync(local, { recursive: true });
      const items = v.secret?.items ?? v.configMap?.items;
      for (const [key, value] of Object.entries(files ?? {})) {
        const item = items?.find((i) => i.key === key);
        if (items && !item) continue;
        const target = path.join(local, item?.path ?? key);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, value, { mode: 0o600 });
      }
      return { path: local };
    }
    // Projected service-account tokens and other kinds are not mounted in the sandbox.
    return undefined;
  }

  private async containerEnv(sb: PodSandbox, c: V1Container): Promise<Record<string, string>> {
    const pod = sb.pod;
    const env: Record<string, string> = {
      PATH: HOST_PATH,
      HOSTNAME: pod.spec?.hostname ?? pod.metadata!.name!,
    };
    for (const e of c.env ?? []) {
      if (e.value !== undefined)
        env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field) {
        const values: Record<string, string | undefined> = {
          'metadata.name': pod.metadata?.name,
          'metadata.namespace': pod.metadata?.namespace,
          'metadata.uid': pod.metadata?.uid,
          'spec.nodeName': pod.spec?.nodeName,
          'status.podIP': sb.ip,
          'status.hostIP': gatewayOf(this.deps.layout),
        };
        env[e.name] = values[field] ?? '';
      }
      const secretRef = e.valueFrom?.secretKeyRef;
      if (secretRef) {
        const data = await this.deps.readSecret(pod.metadata!.namespace!, secretRef.name ?? '');
        env[e.name] = data?.[secretRef.key]?.toString() ?? '';
      }
    }
    return env;
  }

  /** The container's process: netns of the pod, own UTS namespace, volumes and image binaries bind-mounted. */
  private launch(sb: PodSandbox, run: ContainerRun): void {
    const c = run.spec;
    const launcher = path.join(sb.dir, `launch-${c.name}.sh`);
    const lines = ['#!/bin/sh', 'set -eu', `hostname ${quote(run.env.HOSTNAME ?? 'pod')}`];
    const mounts = [...run.mounts, { source: run.binDir!, target: '/usr/local/bin', readOnly: true }];
    for (const m of mounts) {
      if (!fs.existsSync(m.target)) {
        fs.mkdirSync(m.target, { recursive: true });
        fs.appendFileSync(path.join(this.deps.dir, '..', 'created-mountpoints'), `${m.target}\n`);
      }
      lines.push(`mount --bind ${quote(m.source)} ${quote(m.target)}`);
      if (m.readOnly) lines.push(`mount -o remount,bind,ro ${quote(m.target)}`);
    }
    lines.push(`cd ${quote(c.workingDir ?? '/')}`);
    for (const [k, v] of Object.entries(run.env)) lines.push(`export ${k}=${quote(v)}`);
    lines.push('exec "$@"');
    fs.writeFileSync(launcher, lines.join('\n') + '\n', { mode: 0o755 });
    const command = c.command?.length ? c.command : ['etcd'];
    const argv = [...command, ...(c.args ?? [])].map((a) =>
      a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => run.env[n] ?? m),
    );
    const logFd = fs.openSync(path.join(sb.dir, `${c.name}.log`), 'a');
    const child = spawn('ip', ['netns', 'exec', sb.netns, 'unshare', '--uts', '--', launcher, ...argv], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { PATH: HOST_PATH },
    });
    fs.closeSync(logFd);
    run.child = child;
    run.startedAt = new Date().toISOString();
    run.state = { running: { startedAt: new Date(run.startedAt) } };
    run.ready = false;
    if (child.pid) fs.writeFileSync(path.join(sb.dir, `${c.name}.pid`), String(child.pid));
    child.on('exit', (code, signal) => void this.exited(sb, run, child, code, signal));
    this.startProbes(sb, run);
  }

  private startProbes(sb: PodSandbox, run: ContainerRun): void {
    clearTimeout(run.probeTimer);
    const probe = run.spec.readinessProbe;
    if (!probe) {
      run.ready = true;
      return;
    }
    let successes = 0;
    let failures = 0;
    const child = run.child;
    const tick = async () => {
      if (run.child !== child || sb.terminating || !child?.pid) return;
      const result: ProbeResult = await runProbe(probe, { pid: child.pid, podIp: sb.ip!, env: run.env });
      if (run.child !== child || sb.terminating) return;
      if (result.ok) {
        successes++;
        failures = 0;
      } else {
        failures++;
        successes = 0;
      }
      const before = run.ready;
      if (!run.ready && successes >= (probe.successThreshold ?? 1)) run.ready = true;
      if (run.ready && failures >= (probe.failureThreshold ?? 3)) run.ready = false;
      if (before !== run.ready) {
        this.deps.log(
          `${sb.pod.metadata?.name}/${run.spec.name} ready=${run.ready}${result.ok ? '' : `: ${result.message}`}`,
        );
        await this.writeStatus(sb);
        this.deps.changed();
      }
      run.probeTimer = setTimeout(() => void tick(), (probe.periodSeconds ?? 10) * 1000);
    };
    run.probeTimer = setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000);
  }

  private async exited(
    sb: PodSandbox,
    run: ContainerRun,
    child: ChildProcess,
    code: number | null,
    signal: string | null,
  ) {
    if (run.child !== child) return;
    run.child = undefined;
    clearTimeout(run.probeTimer);
    const wasReady = run.ready;
    run.ready = false;
    const terminated = {
      exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
      reason: code === 0 ? 'Completed' : 'Error',
      startedAt: run.startedAt ? new Date(run.startedAt) : undefined,
      finishedAt: new Date(),
    };
    if (sb.terminating) {
      run.state = { terminated };
      return;
    }
    const policy = sb.pod.spec?.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    this.deps.log(
      `${sb.pod.metadata?.name}/${run.spec.name} exited (code ${code}, signal ${signal})${restart ? ', restarting' : ''}`,
    );
    run.lastState = { terminated };
    if (!restart) {
      run.state = { terminated };
    } else {
      const delay = BACKOFF_MS[Math.min(run.restartCount, BACKOFF_MS.length - 1)]!;
      run.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${delay / 1000}s restarting failed container`,
        },
      };
      run.restartTimer = setTimeout(() => {
        if (sb.terminating || !this.sandboxes.has(sb.uid)) return;
        run.restartCount++;
        this.launch(sb, run);
        void this.writeStatus(sb);
      }, delay);
    }
    await this.writeStatus(sb);
    if (wasReady) this.deps.changed();
  }

  /** SIGTERM, then SIGKILL after the grace period; then the pod's network goes and the Pod object is deleted. */
  private async terminate(sb: PodSandbox, graceMs: number, deleteObject: boolean): Promise<void> {
    sb.terminating = true;
    this.deps.log(`stopping ${sb.pod.metadata?.namespace}/${sb.pod.metadata?.name} (grace ${graceMs} ms)`);
    for (const run of sb.containers.values()) {
      clearTimeout(run.probeTimer);
      clearTimeout(run.restartTimer);
      run.ready = false;
    }
    this.deps.changed();
    const children = [...sb.containers.values()]
      .map((r) => r.child)
      .filter((c): c is ChildProcess => !!c?.pid);
    if (deleteObject && children.length)
      await this.deps.event(sb.pod, 'Normal', 'Killing', 'Stopping container');
    await Promise.all(children.map((child) => stopChild(child, graceMs)));
    await deletePodNetwork(sb.netns);
    this.sandboxes.delete(sb.uid);
    if (deleteObject) await this.forceDelete(sb.pod);
    this.deps.changed();
  }

  private async forceDelete(pod: V1Pod): Promise<void> {
    try {
      await this.deps.api.deleteNamespacedPod({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        // With a body, the API server reads the options from it and ignores query parameters.
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } },
      });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) throw err;
    }
  }

  /**
   * Like the kubelet's status manager: a status the API server does not show (a failed patch, or
   * one overwritten) is written again on the next sync, not only when a probe changes its mind.
   */
  private async resyncStatus(sb: PodSandbox, pod: V1Pod): Promise<void> {
    const shown = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (shown !== containersReady(sb)) sb.lastStatus = undefined;
    await this.writeStatus(sb);
  }

  private async writeStatus(sb: PodSandbox): Promise<void> {
    if (sb.terminating) return;
    const runs = [...sb.containers.values()];
    const allStarted = runs.length > 0 && runs.every((r) => r.startedAt);
    const allReady = containersReady(sb);
    const allDone = runs.length > 0 && runs.every((r) => r.state?.terminated);
    const phase = allDone
      ? runs.every((r) => r.state?.terminated?.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : allStarted && sb.ip
        ? 'Running'
        : 'Pending';
    const now = new Date();
    const cond = (type: string, ok: boolean, reason?: string) => ({
      type,
      status: ok ? 'True' : 'False',
      lastTransitionTime: now,
      ...(reason && !ok ? { reason } : {}),
    });
    const status = {
      phase,
      hostIP: gatewayOf(this.deps.layout),
      hostIPs: [{ ip: gatewayOf(this.deps.layout) }],
      podIP: sb.ip,
      podIPs: sb.ip ? [{ ip: sb.ip }] : [],
      startTime: new Date(sb.startTime),
      conditions: [
        cond('PodScheduled', true),
        cond('Initialized', true),
        cond('ContainersReady', allReady, 'ContainersNotReady'),
        cond('Ready', allReady, 'ContainersNotReady'),
      ],
      ...(sb.waitingReason ? { message: sb.waitingReason, reason: 'ContainerCreating' } : {}),
      containerStatuses: runs.map((r) => ({
        name: r.spec.name,
        image: r.spec.image ?? '',
        imageID: '',
        containerID: r.child?.pid ? `sandbox://${r.child.pid}` : undefined,
        ready: r.ready && !!r.child,
        started: !!r.child,
        restartCount: r.restartCount,
        state: r.state,
        lastState: r.lastState ?? {},
      })),
    };
    const key = JSON.stringify({ ...status, conditions: status.conditions.map((c) => [c.type, c.status]) });
    if (key === sb.lastStatus) return;
    sb.lastStatus = key;
    try {
      await this.deps.api.patchNamespacedPodStatus(
        { name: sb.pod.metadata!.name!, namespace: sb.pod.metadata!.namespace!, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      sb.lastStatus = undefined;
      const code = (err as { code?: number }).code;
      if (code !== 404) this.deps.log(`status of ${sb.pod.metadata?.name}: ${String(err)}`);
    }
  }

  async stopAll(graceMs: number): Promise<void> {
    await Promise.all([...this.sandboxes.values()].map((sb) => this.terminate(sb, graceMs, false)));
  }
}

function containersReady(sb: PodSandbox): boolean {
  const runs = [...sb.containers.values()];
  return runs.length > 0 && runs.every((r) => r.ready && !!r.child);
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    // Like the kubelet: SIGTERM to the container's main process only.
    child.once('exit', () => {
      clearTimeout(timer);
      // Whatever the container left in its process group goes too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* group already empty */
      }
      resolve();
    });
    child.kill('SIGTERM');
  });
}
