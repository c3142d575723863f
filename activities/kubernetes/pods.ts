/** Small, serialisable pod summaries and the waits built on them. */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { sleep, type RunContext } from '../run-context.js';
import type { KubeSide } from './clients.js';
import { DeadlineExceeded, kubeCall, kubeGetOptional, opOn } from './errors.js';
import { ordinalOf } from './labels.js';
import { wakeOnChanges, type ChangeWake, type WatchedKind } from './change-wake.js';

export interface PodSummary {
  name: string;
  uid: string;
  ip: string | null;
  ready: boolean;
  node: string | null;
  /** Sum over the pod's containers. */
  restartCount: number;
  phase: string;
  /** StatefulSet ordinal, when the pod belongs to the StatefulSet asked about. */
  ordinal: number | null;
  /** `controller-revision-hash` label: the template revision the pod was created from. */
  revision: string | null;
  terminating: boolean;
  /** The etcd container has started at least once (it is running, or has run). */
  started: boolean;
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function summarizePod(pod: V1Pod, statefulSet?: string): PodSummary {
  const name = pod.metadata?.name ?? '';
  const statuses = pod.status?.containerStatuses ?? [];
  return {
    name,
    uid: pod.metadata?.uid ?? '',
    ip: pod.status?.podIP ?? null,
    ready: isPodReady(pod),
    node: pod.spec?.nodeName ?? null,
    restartCount: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    phase: pod.status?.phase ?? 'Unknown',
    ordinal: statefulSet ? (ordinalOf(statefulSet, name) ?? null) : null,
    revision: pod.metadata?.labels?.['controller-revision-hash'] ?? null,
    terminating: Boolean(pod.metadata?.deletionTimestamp),
    started: statuses.some(
      (s) => Boolean(s.state?.running) || (s.restartCount ?? 0) > 0 || Boolean(s.lastState?.terminated),
    ),
  };
}

/** The pods of a StatefulSet (`<name>-<ordinal>` in its namespace), by ordinal. */
export async function listStatefulSetPods(side: KubeSide, statefulSet: string): Promise<PodSummary[]> {
  const pods = await kubeCall(opOn(side, 'list', 'pods'), () =>
    side.clients.core.listNamespacedPod({ namespace: side.namespace }),
  );
  return pods.items
    .map((p) => summarizePod(p, statefulSet))
    .filter((p) => p.ordinal !== null)
    .sort((a, b) => a.ordinal! - b.ordinal!);
}

/** How long waitUntil asks every 100 ms before it backs off. */
const FAST_POLL_MS = 2000;
/** The shortest time between two looks of a wait that a watch wakes. */
const MIN_LOOK_INTERVAL_MS = 20;

export interface WaitOptions {
  /** What each heartbeat reports (default: what is waited for). */
  progress?: () => unknown;
  /** The longest sleep between two looks (default 1 s). */
  intervalMs?: number;
  /** The sleep between two looks for the first FAST_POLL_MS (default 100 ms, at most intervalMs). */
  fastIntervalMs?: number;
  /** Wake the sleep when objects of this kind change in this side's namespace. */
  wakeOn?: { side: KubeSide; kind: WatchedKind };
}

/**
 * Polls `check` until it returns a value, heartbeating `progress()`, until `deadlineMs`. With
 * `wakeOn`, a watch of those objects ends each sleep at the next change (change-wake.ts).
 */
export async function waitUntil<T>(
  rc: RunContext,
  what: string,
  deadlineMs: number,
  check: () => Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const { progress = () => ({ waitingFor: what }), intervalMs = 1000, wakeOn } = options;
  const started = Date.now();
  let wake: ChangeWake | undefined;
  // Every 100 ms for the first FAST_POLL_MS, then twice as long each time up to intervalMs: a pod
  // stops or starts in a fraction of a second, and each step of a migration waits for one, so
  // seeing it 100 ms late rather than up to 400 ms late adds up; a long wait still asks once per
  // interval.
  const fast = Math.min(options.fastIntervalMs ?? 100, intervalMs);
  let wait = fast;
  try {
    for (;;) {
      const seen = wake?.changes ?? 0;
      const lookedAt = Date.now();
      const value = await check();
      if (value !== undefined) return value;
      // Opened after the first look: most waits are over by then. Its first events list what
      // is there now, so a change made before it opened still wakes the next look.
      if (wakeOn && !wake) wake = wakeOnChanges(wakeOn.side, wakeOn.kind);
      rc.heartbeat(progress());
      if (Date.now() - started + wait > deadlineMs) {
        throw new DeadlineExceeded(`gave up waiting for ${what} after ${deadlineMs} ms`, {
          details: { waitingFor: what, deadlineMs, last: progress() },
        });
      }
      const nap = sleep(wait);
      if (wake) {
        // A cancellation after the wake rejects a nap no one awaits any more.
        nap.catch(() => undefined);
        await Promise.race([nap, wake.after(seen)]);
        // A busy namespace changes often; one look per MIN_LOOK_INTERVAL_MS at most.
        const since = Date.now() - lookedAt;
        if (since < MIN_LOOK_INTERVAL_MS) await sleep(MIN_LOOK_INTERVAL_MS - since);
      } else await nap;
      wait = Date.now() - started < FAST_POLL_MS ? fast : Math.min(wait * 2, intervalMs);
    }
  } finally {
    wake?.stop();
  }
}

/**
 * Expands the variables a pod sees in `value` (`$(VAR)`, `${VAR}`, `$VAR`): HOSTNAME and
 * environment variables from the pod name/namespace (fieldRef) or with literal values.
 */
export function expandForPod(value: string, container: V1Container, pod: string, namespace: string): string {
  const vars: Record<string, string> = { HOSTNAME: pod };
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.name') vars[e.name] = pod;
    else if (field === 'metadata.namespace') vars[e.name] = namespace;
    else if (e.value !== undefined) vars[e.name] = e.value;
  }
  return value.replace(
    /\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, a?: string, b?: string, c?: string) => vars[(a ?? b ?? c)!] ?? m,
  );
}

/** Container states after which a pod will not start by waiting longer. */
const STUCK_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/**
 * Why a pod is not going to become useful without help (an image or config error, or at least
 * `maxRestarts` restarts), or undefined while it looks healthy or is still starting. A crash or
 * two (CrashLoopBackOff for a moment) is left to the restart policy.
 */
export function podTrouble(pod: V1Pod, maxRestarts = 3): string | undefined {
  for (const s of pod.status?.containerStatuses ?? []) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason))
      return `container ${s.name} is ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''} (restarts: ${s.restartCount ?? 0})`;
    if ((s.restartCount ?? 0) >= maxRestarts) {
      const last = s.lastState?.terminated;
      const how = last ? `; last exit ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : '';
      return `container ${s.name} restarted ${s.restartCount} times${how}`;
    }
  }
  return undefined;
}

/** The named pod in the side's namespace, or undefined when it does not exist (yet). */
export function readPod(side: KubeSide, name: string): Promise<V1Pod | undefined> {
  return kubeGetOptional(opOn(side, 'get', 'pods', name), () =>
    side.clients.core.readNamespacedPod({ name, namespace: side.namespace }),
  );
}
