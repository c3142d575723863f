/**
 * One stretch migration under load: this project's workflow with real activities, every gate on
 * auto except switch-clients, which the benchmark approves right after moving the load client to
 * the new voters (so the clients switch at the right moment, as an operator would).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import type { MigrationStatus, StepProgress } from '../../workflows/status.js';
import { clusterClient, podNetns, waitFor } from '../../test/helpers/kube.js';
import { scenarioSpec } from '../../test/helpers/acceptance.js';
import { finishLoad, startLoad, type ClientOutcome } from './client-load.js';
import { cleanUpRun } from './cleanup.js';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { buildAudit } from '../../client/audit/history.js';
import { STEADY_BEFORE_MS, STEADY_MS } from './method-run.js';
import { bothSidesSpans, crossingSpans, spanMs, type Span } from './quorum-spans.js';
import { percentiles, type LatencyPercentiles } from './write-gaps.js';
import type { EtcdMinor } from '../../test/helpers/tls-sources.js';
import {
  backendSize,
  checkFidelity,
  deploySourceEtcd,
  growBackend,
  writeFidelityFixture,
  type FidelityCheck,
} from './source-etcd.js';
import type { BenchTemporal } from './temporal-worker.js';
import { temporalTiming, type TemporalTiming } from './temporal-timing.js';

const execFileAsync = promisify(execFile);

export interface StretchOptions {
  replicas?: number;
  /** Grow the source backend to about this many bytes first. */
  dataBytes?: number;
  /** Size of each value written to grow the backend (default 64 KiB). */
  valueBytes?: number;
  shrink?: boolean;
  soak?: string;
  opsPerSecond?: number;
  keys?: number;
  /** The source's etcd `--snapshot-count` (etcd's default when absent). */
  snapshotCount?: number;
  /** The etcd minor version of the source (the new members run the same image; default 3.4). */
  etcd?: EtcdMinor;
  /** How long the clients run on the source before the migration: their steady state (default 5 s). */
  steadyBeforeMs?: number;
  say?: (line: string) => void;
}

export interface StepTiming {
  id: string;
  kind: string;
  phase: string;
  ms: number;
  /** A membership change's wait for etcd's own rules, from its result (absent in older runs). */
  etcdWaitMs?: number;
  endedAt?: string;
}

export interface StretchRun {
  method: 'stretch';
  namespace: string;
  outcome: string;
  replicas: number;
  shrink: boolean;
  dbSizeBefore: number;
  dbSizeInUseBefore: number;
  /**
   * Backend sizes when the switch-clients gate is reached (after the shrink, if any, and every
   * join): one source member's, and each new member's (which replayed the log, not the source's file).
   */
  dbSizeAtSwitch?: { source: number; newMembers: number[] };
  /** From the workflow's start to its result. */
  durationMs: number;
  /** From reaching the switch-clients gate to its approval (moving the load client). */
  switchGateMs: number;
  /** Workflow tasks and activities as the history times them (runs before 2026-12-07n: none). */
  temporal?: TemporalTiming;
  clients: ClientOutcome;
  fidelity: FidelityCheck;
  /** Per new member: add-learner start to promote end (the last one is promoted in retire, after the switch). */
  joins: { member: string; ms: number; rxBytesAtSwitch: number; snapshotsReceived?: number }[];
  snapshotCount?: number;
  membershipChanges: number;
  /**
   * Each promote's fixed peer-link observation window in this run's code: absent in runs from
   * before the check, 6000 while it waited a window, 0 since the voter's prober record proves the
   * link (what a promote still waits for it counts in the promote step).
   */
  peerLinkWindowMs?: number;
  steps: StepTiming[];
  /**
   * While neither cluster alone held a majority of the voters (each write then waits for a
   * cross-cluster round trip): how long, and the acknowledged writes' latency in those states.
   */
  bothSides?: { ms: number; latency: LatencyPercentiles };
  /**
   * While the leader's cluster did not hold a majority (from the leader move to the first removal
   * in a 3 -> 3 move): each write waited for the other cluster's acknowledgement.
   */
  crossing?: { ms: number; latency: LatencyPercentiles };
  error?: string;
}

const ms = (s: StepProgress): number =>
  s.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : 0;

export function stretchSpec(namespace: string, opts: StretchOptions): Record<string, unknown> {
  return scenarioSpec(namespace, {
    // Unique: the source cluster's CoreDNS maps the new member names cluster-wide, and other
    // migrations (other benchmark runs, other people's tests) share the sandbox.
    target: { statefulSet: `etcd-${namespace.split('-').at(-1)}` },
    shrink: { enabled: opts.shrink ?? true, keepRevisions: 1000 },
    soak: opts.soak ?? '5s',
    deadlines: { catchUp: '15m', step: '15m' },
  });
}

/** Bytes the pod's network interface received so far (every peer, client and probe). */
export async function podRxBytes(pod: V1Pod, cluster: 'source' | 'target'): Promise<number> {
  const netns = podNetns(clusterClient(cluster), pod);
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', netns, 'cat', '/proc/net/dev']);
  const eth = stdout.split('\n').find((l) => l.trim().startsWith('eth0:'));
  return eth ? Number(eth.split(':')[1]!.trim().split(/\s+/)[0]) : 0;
}

/** Raft snapshots the member has received from its leader (etcd_network_snapshot_receive_success). */
async function snapshotsReceived(pod: V1Pod): Promise<number> {
  const res = await fetch(`http://${pod.status!.podIP}:2379/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('etcd_network_snapshot_receive_success{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

interface NewMemberAtSwitch {
  rxBytes: number;
  snapshotsReceived?: number;
  dbSize?: number;
}

/** What a new member's pod shows at the switch: each read on its own, a failed one left out. */
async function newMemberAtSwitch(pod: V1Pod): Promise<NewMemberAtSwitch> {
  const [rxBytes, snapshots, dbSize] = await Promise.all([
    podRxBytes(pod, 'target').catch(() => -1),
    snapshotsReceived(pod).catch(() => undefined),
    backendSize([`http://${pod.status!.podIP}:2379`]).then(
      (b) => b.dbSize,
      () => undefined,
    ),
  ]);
  return {
    rxBytes,
    ...(snapshots === undefined ? {} : { snapshotsReceived: snapshots }),
    ...(dbSize === undefined ? {} : { dbSize }),
  };
}

interface MembershipTiming {
  etcdWaitMs: number | null;
  appliedAt: string | null;
}

const waitOf = (t: MembershipTiming | undefined) =>
  t?.etcdWaitMs != null ? { etcdWaitMs: t.etcdWaitMs } : {};

/** Each membership change's wait for etcd's rules and when etcd applied it, by plan step, from the run's history. */
function membershipTimingByStep(history: History): Map<string, MembershipTiming> {
  const audit = buildAudit(history);
  const timing = new Map<string, MembershipTiming>();
  for (const m of audit.membershipChanges)
    if (m.stepId && m.outcome === 'completed')
      timing.set(m.stepId, { etcdWaitMs: m.etcdWaitMs, appliedAt: m.appliedAt });
  return timing;
}

export async function runStretch(t: BenchTemporal, opts: StretchOptions = {}): Promise<StretchRun> {
  const say = opts.say ?? (() => undefined);
  const replicas = opts.replicas ?? 3;
  const source = clusterClient('source');
  const target = clusterClient('target');
  const src = await deploySourceEtcd(source, {
    replicas,
    keys: opts.keys ?? 500,
    prefix: 'bench-st',
    snapshotCount: opts.snapshotCount,
    etcd: opts.etcd,
  });
  const ns = src.namespace;
  const spec = stretchSpec(ns, opts);
  try {
    await target.core.createNamespace({ body: { metadata: { name: ns } } });
    if (opts.dataBytes) {
      const grown = await growBackend(src.endpoints, opts.dataBytes, opts.valueBytes);
      say(`${ns}: backend grown to ${(grown.dbSize / 1024 / 1024).toFixed(0)} MiB (${grown.puts} puts)`);
    }
    const before = await backendSize(src.endpoints);
    const fixture = await writeFidelityFixture(src.endpoints);
    const load = await startLoad(src.endpoints, opts.opsPerSecond ?? 150);
    await new Promise((r) => setTimeout(r, opts.steadyBeforeMs ?? STEADY_BEFORE_MS));
    const started = Date.now();
    const handle = await t.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue: t.taskQueue,
      workflowId: `bench-${ns}`,
      args: [{ spec }],
    });
    say(`${ns}: stretch workflow started (${replicas} members, shrink ${opts.shrink ?? true})`);
    let error: string | undefined;
    let switchGateMs = 0;
    const atSwitch = new Map<string, NewMemberAtSwitch>();
    let dbSizeAtSwitch: StretchRun['dbSizeAtSwitch'];
    const atGate = await waitFor(
      'the switch-clients gate',
      async () => {
        const s = await handle.query(statusQuery);
        if (['failed', 'rolled-back', 'aborted', 'stopped', 'completed'].includes(s.workflowState))
          throw new Error(`workflow ${s.workflowState}: ${s.error}`);
        return s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients' ? s : undefined;
      },
      // Often enough that the gate is held for the switch, not for the benchmark to notice it.
      { timeoutMs: 30 * 60_000, intervalMs: 100 },
    ).catch((err: unknown) => {
      error = err instanceof Error ? err.message : String(err);
      return undefined;
    });
    let result: MigrationResult | undefined;
    if (atGate) {
      const gateAt = Date.parse((atGate.waitingFor as { since: string }).since);
      const voters = new Set(
        atGate.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
      );
      const pods = (await target.core.listNamespacedPod({ namespace: ns })).items;
      const running = pods.filter((p) => p.status?.podIP);
      // Read beside the switch, not before it: the gate holds the run for the switch alone.
      const readAtSwitch = Promise.all([
        Promise.all(running.map(newMemberAtSwitch)),
        backendSize(src.endpoints).catch(() => undefined),
      ]);
      const newVoters = pods
        .filter((p) => voters.has(p.metadata!.name!) && p.status?.podIP)
        .map((p) => `http://${p.status!.podIP}:2379`);
      // Connected first, as a client that switches keeps its connections open.
      await load.warmUp(newVoters);
      await load.setEndpoints(newVoters); // acknowledged once the operation in flight has ended
      await handle.executeUpdate(approveUpdate, {
        args: [{ gate: 'switch-clients', by: 'bench', comment: 'load client switched' }],
      });
      switchGateMs = Date.now() - gateAt;
      const [seen, sourceSize] = await readAtSwitch;
      running.forEach((p, i) => atSwitch.set(p.metadata!.name!, seen[i]!));
      if (sourceSize)
        dbSizeAtSwitch = { source: sourceSize.dbSize, newMembers: seen.flatMap((m) => m.dbSize ?? []) };
      try {
        result = await handle.result();
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
    } else {
      await handle.terminate('benchmark gave up').catch(() => undefined);
    }
    const durationMs = Date.now() - started;
    // The clients stay on the new members a while: the steady state after the migration.
    if (result?.outcome === 'completed') await new Promise((r) => setTimeout(r, STEADY_MS));
    const status: MigrationStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
    const steps = (status?.plan?.steps ?? []).filter((s) => s.startedAt && s.endedAt);
    const clients = await finishLoad(load, { from: started, to: started + durationMs, steps });
    const fidelity = await checkFidelity(load.currentEndpoints(), fixture).catch((err: unknown) => ({
      revisionsPreserved: false,
      leasesPreserved: false,
      details: [String(err)],
    }));
    const history = await handle.fetchHistory();
    const timing = membershipTimingByStep(history);
    const changes = steps.map((s) => ({ ...s, appliedAt: timing.get(s.id)?.appliedAt }));
    const writesIn = (spans: Span[]) => ({
      ms: spanMs(spans),
      latency: percentiles(
        load.history.filter(
          (o) =>
            o.type === 'put' && o.outcome === 'ok' && spans.some((s) => o.start >= s.from && o.start < s.to),
        ),
      ),
    });
    const bothSides = writesIn(bothSidesSpans(replicas, changes, started + durationMs));
    const crossing = writesIn(crossingSpans(replicas, changes, started + durationMs));
    const joins = [...atSwitch.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([member, seenAtSwitch]) => {
        const mine = steps.filter((s) => s.id.split('/')[1] === member && s.phase !== 'cleanup');
        const first = mine.find((s) => s.kind === 'add-learner');
        const last = mine.filter((s) => s.kind === 'promote' || s.kind === 'await-catch-up').at(-1);
        return {
          member,
          ms: first && last ? Date.parse(last.endedAt!) - Date.parse(first.startedAt!) : 0,
          rxBytesAtSwitch: seenAtSwitch.rxBytes,
          ...(seenAtSwitch.snapshotsReceived === undefined
            ? {}
            : { snapshotsReceived: seenAtSwitch.snapshotsReceived }),
        };
      });
    say(`${ns}: ${result?.outcome ?? `failed: ${error}`} in ${(durationMs / 1000).toFixed(1)} s`);
    const longest = clients.writeGaps?.longest[0];
    if (longest)
      say(
        `${ns}: longest write gap ${longest.ms} ms (${longest.during.join(', ')}); steady state ${clients.writeGaps!.steadyMaxMs} ms`,
      );
    return {
      method: 'stretch',
      namespace: ns,
      outcome: result?.outcome ?? 'failed',
      replicas,
      shrink: opts.shrink ?? true,
      ...(opts.snapshotCount === undefined ? {} : { snapshotCount: opts.snapshotCount }),
      dbSizeBefore: before.dbSize,
      dbSizeInUseBefore: before.dbSizeInUse,
      ...(dbSizeAtSwitch ? { dbSizeAtSwitch } : {}),
      durationMs,
      switchGateMs,
      temporal: temporalTiming(history),
      clients,
      fidelity,
      joins,
      bothSides,
      crossing,
      membershipChanges: steps.filter((s) => ['add-learner', 'promote', 'remove-member'].includes(s.kind))
        .length,
      peerLinkWindowMs: 0,
      steps: steps.map((s) => ({
        id: s.id,
        kind: s.kind,
        phase: s.phase,
        ms: ms(s),
        endedAt: s.endedAt!,
        ...waitOf(timing.get(s.id)),
      })),
      ...(error ? { error } : {}),
    };
  } finally {
    await cleanUpRun(ns, spec);
  }
}
