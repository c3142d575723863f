/**
 * The acceptance scenario of design.md, shared by the end-to-end test and the demo: the article's
 * 3-member etcd in cluster "source" with data in it, a live load client, the migration workflow
 * (real activities, a real Temporal server) to StatefulSet etcd-main in cluster "target", the load
 * client switched to the new members at the switch-clients gate. Returns the report. Another source
 * fixture and member count (`sourceFixture`) and another target size (`targetReplicas`) make the
 * same scenario for other sizes.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Etcd3 } from 'etcd3';
import fs from 'node:fs';
import path from 'node:path';
import { attachClientNetns } from '../../sandbox/client-netns.js';
import { kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { readMemberEntries } from '../../activities/kubernetes/corefile-entries.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { abortSignal, approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import type { MigrationStatus } from '../../workflows/status.js';
import { checkHistory, type CheckResult } from './history-checker.js';
import {
  apply,
  clusterClient,
  createNamespaceInBoth,
  readyPods,
  waitFor,
  type ClusterClient,
} from './kube.js';
import { LoadClient, type LoadSummary } from './load-client.js';
import { RemoteLoadClient, type ScenarioLoadClient } from './remote-load-client.js';
import {
  inProcessWorkers,
  clusterQueue,
  perClusterWorkers,
  workersSpec,
  type PerClusterKills,
  type WorkerHost,
} from './worker-hosts.js';
import type { ClusterName } from '../../sandbox/config.js';
import {
  KIND_TOPOLOGY,
  TWO_CLOUDS_TOPOLOGY,
  readTopology,
  setTopology,
  type LbAddressKind,
  type SandboxTopology,
} from '../../sandbox/topology.js';
import { WORKER_NAME, workerNetns } from '../../sandbox/worker-netns.js';
import { QuorumMonitor, type QuorumReport } from './quorum-monitor.js';
import { resumeThroughCli } from './cli-resume.js';
import { corefileOf, objectVersions, readCorefile } from './bad-input.js';
import type { GateName } from '../../core/spec/schema.js';
import { ARTICLE_FIXTURE, sourceManifests, type SourceFixture } from './source-fixture.js';

export interface ScenarioOptions {
  client: Client;
  /** For the default in-process worker; not needed with `workers`. */
  connection?: NativeConnection;
  /** Abort at the switch-clients gate instead of approving it. */
  abortAtSwitch?: boolean;
  /** Make this gate manual and abort there (before the client switch: a rollback). */
  abortAtGate?: GateName;
  /**
   * Called with every status poll until the client switch (or the end): fault runs inject their
   * fault, resume or approve from here. Throwing ends the scenario with that error.
   */
  onStatus?: (ctx: ScenarioContext) => Promise<void>;
  /** Keep calling onStatus after the client switch, until the run ends (faults in retire). */
  onStatusAfterSwitch?: boolean;
  /** In-process worker: awaited before each activity attempt, with its plan step (see inProcessWorkers). */
  beforeStep?: (stepId: string) => Promise<void>;
  /**
   * When the run has ended (failed after the switch, stopped), a second run of the same spec
   * with `resume: true` (etcd-stretch start --resume) finishes it; the report is of that run,
   * `firstRun` of the first.
   */
  resume?: boolean;
  /**
   * With `resume`: the second run is started as an operator starts it, `etcd-stretch start
   * --resume <spec> --watch` (the CLI spawned, against this Temporal frontend), not by the client.
   */
  resumeThroughCli?: { address: string };
  /**
   * Terminate the run (as if Temporal lost it) at the first status poll this is true for, and
   * go on at once with a second run of the same spec in resume mode: the scenario continues with
   * it (gates, the client switch). `firstRun` tells what happened.
   */
  killAndResumeWhen?: (status: MigrationStatus) => boolean;
  /** The source etcd (StatefulSet and headless Service `etcd`) and its members; default the article's 3. */
  sourceFixture?: SourceFixture;
  /** The spec's `target.replicas` (default: unset, the source's size); the final members follow it. */
  targetReplicas?: number;
  /** How many times a member may be added (a retried join adds it twice); default once. */
  expectedAdds?: (member: string) => number;
  keys?: number;
  opsPerSecond?: number;
  onProgress?: (line: string) => void;
  /** Where the worker runs (default: in this process). */
  workers?: WorkerHost;
  /**
   * A worker per cluster instead (spec `workers.mode: per-cluster`), each in a network namespace
   * of its cluster with that cluster's credentials only; `address` is the Temporal frontend.
   * `killAt`: SIGKILL that cluster's worker once when the run enters the phase, then restart it.
   * The load client then is a client of the source cluster, as the applications are: it runs in
   * the source cluster's client namespace and uses the member names (after the switch, the new
   * members' names, which the source cluster's DNS answers with their load balancers).
   */
  perCluster?: { address: string; killAt?: Omit<PerClusterKills, 'client'> };
  /**
   * How unkind the sandbox is during the run (restored afterwards, unless `cleanup` is false:
   * the demo leaves the sandbox as its run had it). Default: two clouds
   * (20 ms link, 30 s DNS delay, hostname load balancers on the target) with per-cluster workers,
   * the cloud-to-cloud migration the product is for; the kind topology with one worker, which
   * reaches both clusters as a jump host with peered networks would.
   */
  topology?: SandboxTopology;
  /** Extra spec fields (gates, soak, ...). */
  specOverrides?: ScenarioSpecOverrides;
  /** Delete the namespaces and this migration's DNS entries afterwards (default true; the demo keeps them). */
  cleanup?: boolean;
}

export interface ScenarioContext {
  status: MigrationStatus;
  handle: WorkflowHandle<typeof etcdMigration>;
  namespace: string;
  say: (line: string) => void;
}

export interface ScenarioReport extends LoadSummary {
  outcome: string;
  lostWrites: number;
  check: CheckResult;
  durationMs: number;
  phases: { name: string; start: string; end?: string }[];
  finalMembers: { name: string; cluster: string; learner: boolean }[];
  /** The members a completed migration ends with: etcd-main-0 .. (target size - 1). */
  expectedFinalMembers: string[];
  hashKvConsistent: boolean;
  sourcePvcsRetained: boolean;
  /** The source namespace's PVCs at the end. */
  sourcePvcsAfter: string[];
  sourceMemberIdsBefore: string[];
  sourceMemberIdsAfter: string[];
  temporalWorkflowId: string;
  /** Where the workers ran, and the sandbox's link, DNS and load balancers during the run. */
  topology: ScenarioTopology;
  namespace: string;
  status: MigrationStatus;
  /** What the background monitor saw: quorum, leaderless windows, membership changes. */
  quorum: QuorumReport;
  /** How the workflow failed, when it did. */
  failure?: string;
  /** With `resume`: how the first run ended, and the resumed run's workflow ID. */
  firstRun?: { outcome: string; reason: string; resumedBy: string; cliExitCode?: number | null };
  /** Source state before and after, for runs that must leave it untouched (aborts). */
  sourceStateBefore: SourceState;
  sourceStateAfter?: SourceState;
  /** After a run that went on past the client switch: what it left between the clusters. */
  betweenClustersAfter?: BetweenClusters;
}

/** The names each cluster's CoreDNS answers for the run, and the member LoadBalancer Services. */
export interface BetweenClusters {
  dnsNames: Record<ClusterName, string[]>;
  memberServices: Record<ClusterName, string[]>;
}

export interface ScenarioTopology {
  workers: { cluster: string; where: string; workflowTaskQueue: string; activityTaskQueue: string }[];
  rttMs: number;
  jitterMs: number;
  lossPercent: number;
  bandwidthMbit: number;
  dnsDelayS: number;
  loadBalancerAddressKind: Record<ClusterName, LbAddressKind>;
}

/** The topology of a run on `taskQueue`, as the sandbox is set now. */
function scenarioTopology(taskQueue: string, perCluster: boolean): ScenarioTopology {
  const t = readTopology();
  const workers = perCluster
    ? (['source', 'target'] as const).map((cluster) => ({
        cluster,
        where: `network namespace ${workerNetns(cluster)}`,
        workflowTaskQueue: taskQueue,
        activityTaskQueue: clusterQueue(taskQueue, cluster),
      }))
    : [
        {
          cluster: 'source and target',
          where: 'the test process',
          workflowTaskQueue: taskQueue,
          activityTaskQueue: taskQueue,
        },
      ];
  return { workers, ...t.link, dnsDelayS: t.dnsDelayS, loadBalancerAddressKind: t.lbAddressKind };
}

/** What an aborted migration must give back exactly: member IDs, objects, the source Corefile. */
export interface SourceState {
  memberIds: string[];
  /** `kind/name` -> resourceVersion of the objects in the source namespace (pods excluded: their status moves). */
  objects: Record<string, string>;
  /** The source cluster's Corefile without other namespaces' blocks. */
  corefile: string;
  /** Target namespace objects (must be none after a rollback). */
  targetObjects: string[];
}

/** What a scenario changes in the acceptance spec: sections are merged one level deep. */
export interface ScenarioSpecOverrides {
  source?: Record<string, unknown>;
  target?: Record<string, unknown>;
  gates?: Record<string, string>;
  deadlines?: Record<string, string>;
  [field: string]: unknown;
}

/** The acceptance scenario's migration spec (source `etcd` -> target `etcd-main`); every test and benchmark builds its spec here. */
export function scenarioSpec(
  namespace: string,
  overrides: ScenarioSpecOverrides = {},
): Record<string, unknown> {
  const { source, target, gates, deadlines, ...rest } = overrides;
  return {
    version: 1,
    kind: 'EtcdMigration',
    source: {
      context: 'source',
      namespace,
      statefulSet: 'etcd',
      service: 'etcd',
      loadBalancer: { sourceRanges: ['198.18.2.0/24'] },
      ...source,
    },
    target: {
      context: 'target',
      namespace,
      statefulSet: 'etcd-main',
      loadBalancer: { sourceRanges: ['198.18.1.0/24'] },
      ...target,
    },
    gates: {
      shrink: 'auto',
      expose: 'auto',
      dns: 'auto',
      join: 'auto',
      leader: 'auto',
      'switch-clients': 'manual',
      finalize: 'auto',
      cleanup: 'auto',
      ...gates,
    },
    soak: '5s',
    deadlines: { catchUp: '3m', loadBalancers: '2m', step: '3m', ...deadlines },
    ...rest,
  };
}

async function memberIds(endpoints: string[]): Promise<string[]> {
  const c = new Etcd3({ hosts: endpoints });
  try {
    return (await c.cluster.memberList({ linearizable: true })).members.map((m) => m.ID).sort();
  } finally {
    c.close();
  }
}

async function sourcePvcs(source: ClusterClient, ns: string): Promise<string[]> {
  return (await source.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items
    .map((p) => p.metadata!.name!)
    .sort();
}

export async function runAcceptanceScenario(opts: ScenarioOptions): Promise<ScenarioReport> {
  const before = readTopology();
  setTopology(opts.topology ?? (opts.perCluster ? TWO_CLOUDS_TOPOLOGY : KIND_TOPOLOGY));
  try {
    return await runScenario(opts);
  } finally {
    if (opts.cleanup !== false) setTopology(before);
  }
}

async function runScenario(opts: ScenarioOptions): Promise<ScenarioReport> {
  const say = opts.onProgress ?? (() => undefined);
  const { source, target, ns } = await createNamespaceInBoth('accept');
  say(`namespace ${ns} in both clusters`);

  const fixture = opts.sourceFixture ?? ARTICLE_FIXTURE;
  await apply(source, sourceManifests(fixture, ns));
  const pods = await readyPods(source, ns, 'app=etcd', fixture.replicas);
  const sourceEndpoints = pods.map((p) => `http://${p.status!.podIP}:2379`);
  const seed = new Etcd3({ hosts: sourceEndpoints });
  try {
    for (let i = 0; i < (opts.keys ?? 500); i++) await seed.put(`data/${i}`).value(`seed-${i}`);
  } finally {
    seed.close();
  }
  const idsBefore = await memberIds(sourceEndpoints);
  const pvcsBefore = await sourcePvcs(source, ns);
  say(`source etcd ready: ${pods.map((p) => p.metadata!.name).join(', ')}; ${opts.keys ?? 500} keys written`);

  const sourceStateBefore = await sourceState(source, target, ns, sourceEndpoints);
  const monitor = new QuorumMonitor(ns);
  monitor.start();

  const opsPerSecond = opts.opsPerSecond ?? 150;
  // Per cluster: a client of the source cluster. Otherwise: this process, by pod IP.
  const clientNs = opts.perCluster ? await attachClientNetns('source', ns) : undefined;
  const load: ScenarioLoadClient = clientNs
    ? await RemoteLoadClient.launch({
        netns: clientNs,
        endpoints: pods.map((p) => memberUrl(p.metadata!.name!, 'etcd')),
        opsPerSecond,
      })
    : new LoadClient({ endpoints: sourceEndpoints, opsPerSecond });
  await load.start();
  say(
    `load client running${clientNs ? ` in ${clientNs.netns} on ${load.currentEndpoints().join(', ')}` : ''}`,
  );
  // Where this process reads what the clients' cluster holds at the end (it resolves no member names).
  let readEndpoints = sourceEndpoints;

  const abortGate = opts.abortAtGate ?? (opts.abortAtSwitch ? 'switch-clients' : undefined);
  const specOverrides = withTargetReplicas(
    abortGate
      ? {
          ...opts.specOverrides,
          gates: { ...opts.specOverrides?.gates, [abortGate]: 'manual' },
        }
      : opts.specOverrides,
    opts.targetReplicas,
  );
  const expectedFinalMembers = Array.from(
    { length: opts.targetReplicas ?? fixture.replicas },
    (_, i) => `etcd-main-${i}`,
  );
  const taskQueue = `accept-${randomUUID()}`;
  const topology = scenarioTopology(taskQueue, opts.perCluster !== undefined);
  if (!opts.workers && !opts.connection && !opts.perCluster)
    throw new Error('runAcceptanceScenario: pass connection, workers or perCluster');
  const perCluster = opts.perCluster;
  const host = perCluster
    ? perClusterWorkers({
        address: perCluster.address,
        namespace: ns,
        killAt: perCluster.killAt && { ...perCluster.killAt, client: opts.client },
      })
    : (opts.workers ?? inProcessWorkers(opts.connection!, undefined, opts.beforeStep));
  const runSpec = scenarioSpec(
    ns,
    perCluster ? { ...specOverrides, workers: workersSpec(taskQueue) } : specOverrides,
  );
  const workflowId = `etcd-migration-${ns}`;
  const started = Date.now();
  let handle: WorkflowHandle<typeof etcdMigration> | undefined;
  let result: MigrationResult | undefined;
  let failure: unknown;
  let finalStatus: MigrationStatus | undefined;
  let firstRun: ScenarioReport['firstRun'];
  const runs = host.run(taskQueue, workflowId, async () => {
    handle = await opts.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [{ spec: runSpec }],
    });
    say(`workflow ${workflowId} started`);
    let lastPhase = '';
    let hookError: unknown;
    const stopAt = abortGate ?? 'switch-clients';
    // One status poll: the phase line, then the hook; `ended` once the run is over or the hook threw.
    const poll = async () => {
      const s = await handle!.query(statusQuery);
      if (opts.killAndResumeWhen && !firstRun && opts.killAndResumeWhen(s)) {
        await handle!.terminate('killed by the scenario: the run is lost');
        firstRun = {
          outcome: 'terminated',
          reason: `killed in phase ${s.phase}`,
          resumedBy: `${workflowId}-resume`,
        };
        handle = await opts.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: firstRun.resumedBy,
          args: [{ spec: runSpec, resume: true }],
        });
        say(`run killed in phase ${s.phase}; resumed as ${firstRun.resumedBy}`);
        return { ended: false, s };
      }
      if (s.phase && s.phase !== lastPhase) {
        lastPhase = s.phase;
        say(`phase ${s.phase}`);
      }
      try {
        await opts.onStatus?.({ status: s, handle: handle!, namespace: ns, say });
      } catch (err) {
        hookError = err;
        return { ended: true, s };
      }
      return {
        ended: ['failed', 'rolled-back', 'aborted', 'completed', 'stopped'].includes(s.workflowState),
        s,
      };
    };
    const atGate = await waitFor(
      `the ${stopAt} gate`,
      async () => {
        const { ended, s } = await poll();
        if (ended) return { ended: true as const, s };
        return s.waitingFor?.kind === 'approval' && s.waitingFor.gate === stopAt
          ? { ended: false as const, s }
          : undefined;
      },
      { timeoutMs: 15 * 60_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      failure = err;
      return undefined;
    });
    if (hookError) failure = hookError;
    if (atGate && !atGate.ended && !hookError) {
      if (abortGate) {
        await handle.signal(abortSignal, { by: 'acceptance-test', reason: `abort at the ${abortGate} gate` });
        say(`aborted at the ${abortGate} gate`);
      } else {
        // The clients move to the new voters (a learner serves no client requests).
        const voters = new Set(
          atGate.s.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
        );
        const newPods = (await target.core.listNamespacedPod({ namespace: ns })).items.filter((p) =>
          voters.has(p.metadata!.name!),
        );
        const targetEndpoints = newPods
          .filter((p) => p.status?.podIP)
          .map((p) => `http://${p.status!.podIP}:2379`);
        const clientEndpoints = clientNs
          ? [...voters].sort().map((name) => memberUrl(name, 'etcd-main'))
          : targetEndpoints;
        await load.warmUp(clientEndpoints);
        await load.setEndpoints(clientEndpoints);
        readEndpoints = targetEndpoints;
        say(`load client switched to ${clientEndpoints.join(', ')}`);
        await handle.executeUpdate(approveUpdate, {
          args: [{ gate: 'switch-clients', by: 'acceptance-test', comment: 'load client switched' }],
        });
        if (opts.onStatusAfterSwitch) {
          await waitFor('the end of the run', async () => (await poll()).ended || undefined, {
            timeoutMs: 15 * 60_000,
            intervalMs: 500,
          }).catch((err: unknown) => {
            failure = err;
          });
          if (hookError) failure = hookError;
        }
      }
    }
    if (!hookError) {
      try {
        result = await handle.result();
      } catch (err) {
        failure = err;
      }
    } else {
      await handle.terminate('the fault hook failed').catch(() => undefined);
    }
    if (opts.resume && !hookError) {
      const resumedBy = `${workflowId}-resume`;
      firstRun = {
        outcome: result?.outcome ?? 'failed',
        reason: failure instanceof Error ? failureChain(failure) : (result?.reason ?? ''),
        resumedBy,
      };
      say(`first run ended ${firstRun.outcome}; resuming with ${resumedBy}`);
      result = undefined;
      failure = undefined;
      if (opts.resumeThroughCli) {
        const cli = await resumeThroughCli({ ...opts.resumeThroughCli, taskQueue, spec: runSpec, say });
        if (!cli.workflowId) throw new Error(`etcd-stretch start --resume did not start: ${cli.stderr}`);
        firstRun.resumedBy = cli.workflowId;
        firstRun.cliExitCode = cli.exitCode;
        handle = opts.client.workflow.getHandle<typeof etcdMigration>(cli.workflowId);
      } else {
        handle = await opts.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: resumedBy,
          args: [{ spec: runSpec, resume: true }],
        });
      }
      try {
        result = await handle.result();
      } catch (err) {
        failure = err;
      }
    }
    // Queries need a worker: ask while this one still runs.
    finalStatus = await handle.query(statusQuery).catch(() => undefined);
  });
  await runs.catch(async (err: unknown) => {
    await load.stop().catch(() => undefined);
    load.close();
    await clientNs?.remove();
    throw err;
  });
  // A load client that ended before this stop makes the run's result untrustworthy: reported below.
  const loadFailure = await load.stop().then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  const durationMs = Date.now() - started;
  const status = finalStatus;
  say(
    `workflow ended: ${result?.outcome ?? `failed (${failure instanceof Error ? failure.message : String(failure)})`}`,
  );

  // What the clients' cluster holds at the end: new members after a migration, old ones after an abort.
  const reader = new Etcd3({ hosts: readEndpoints });
  const finalValues = new Map<string, string | undefined>();
  let hashKvConsistent = false;
  let sourceMemberIdsAfter: string[] = [];
  try {
    const keys = new Set(load.history.map((o) => o.key));
    for (const key of keys) finalValues.set(key, (await reader.get(key).string()) ?? undefined);
    const seedCount = await reader.getAll().prefix('data/').count();
    if (seedCount !== (opts.keys ?? 500)) finalValues.set('data/*count', String(seedCount));
    hashKvConsistent = result?.evidence?.hashKv?.agree ?? false;
    if (abortGate) sourceMemberIdsAfter = await memberIds(sourceEndpoints);
  } finally {
    reader.close();
  }
  load.close();
  await clientNs?.remove();
  await monitor.stop();
  const quorum = monitor.report(opts.expectedAdds);
  const sourceStateAfter = abortGate
    ? await sourceState(source, target, ns, sourceEndpoints).catch(() => undefined)
    : undefined;
  const betweenClustersAfter = abortGate ? undefined : await betweenClusters({ source, target }, ns);
  const check = checkHistory(load.history, finalValues);
  const summary = load.summary();
  const sourcePvcsAfter = await sourcePvcs(source, ns);
  const sourcePvcsRetained =
    pvcsBefore.length === fixture.replicas && sourcePvcsAfter.join() === pvcsBefore.join();
  if (opts.cleanup ?? true) await cleanUp(ns, specOverrides);
  // Kept for diagnosis: what the clients saw next to when each step ran.
  fs.mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
  fs.writeFileSync(
    path.join(REPO_ROOT, 'reports', `scenario-${ns}.json`),
    JSON.stringify(
      {
        summary,
        check,
        steps: status?.plan?.steps.map((p) => [p.id, p.startedAt, p.endedAt, p.note]),
        compensations: status?.compensations,
        quorum,
        notices: status?.notices,
        loadClientFailure: loadFailure?.message,
      },
      null,
      2,
    ),
  );
  if (loadFailure) throw loadFailure;
  return {
    ...summary,
    outcome: result?.outcome ?? 'failed',
    lostWrites: check.lostWrites,
    check,
    durationMs,
    phases: (result?.phases ?? status?.phases ?? []).map((p) => ({
      name: p.name,
      start: p.startedAt,
      end: p.endedAt,
    })),
    finalMembers: (result?.finalMembers ?? status?.members ?? []).map((m) => ({
      name: m.name,
      cluster: m.side,
      learner: m.isLearner,
    })),
    expectedFinalMembers,
    hashKvConsistent,
    sourcePvcsRetained,
    sourcePvcsAfter,
    sourceMemberIdsBefore: idsBefore,
    sourceMemberIdsAfter,
    temporalWorkflowId: workflowId,
    topology,
    namespace: ns,
    status: status!,
    quorum,
    failure:
      failure === undefined
        ? undefined
        : failure instanceof Error
          ? failureChain(failure)
          : JSON.stringify(failure),
    sourceStateBefore,
    sourceStateAfter,
    betweenClustersAfter,
    ...(firstRun ? { firstRun } : {}),
  };
}

/**
 * A member's client URL by the name the article's members advertise, `<pod>.<service>`: a pod in
 * the namespace resolves it, and the migration's dns phase makes the source cluster answer it for
 * the new members (with their load balancers), not their `.<ns>.svc.cluster.local` names.
 */
function memberUrl(pod: string, service: string): string {
  return `http://${pod}.${service}:2379`;
}

/** `overrides` with the spec's `target.replicas` set, when a target size is given. */
function withTargetReplicas(
  overrides: ScenarioSpecOverrides | undefined,
  replicas: number | undefined,
): ScenarioSpecOverrides | undefined {
  if (replicas === undefined) return overrides;
  return { ...overrides, target: { ...overrides?.target, replicas } };
}

function failureChain(err: Error): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join(': ');
}

async function sourceState(
  source: ClusterClient,
  target: ClusterClient,
  ns: string,
  endpoints: string[],
): Promise<SourceState> {
  const [ids, objects, targetObjects, dns] = await Promise.all([
    memberIds(endpoints),
    objectVersions(source, ns),
    objectVersions(target, ns),
    readCorefile(source),
  ]);
  // Not the migration's: what Kubernetes puts in every namespace, and the per-cluster workers'
  // ServiceAccount, installed with the workers (deploy/rbac-*.yaml). Source pods: their status moves.
  const notOurs = new Set([
    'ConfigMap/kube-root-ca.crt',
    'ServiceAccount/default',
    `ServiceAccount/${WORKER_NAME}`,
  ]);
  return {
    memberIds: ids,
    objects: Object.fromEntries(
      Object.entries(objects).filter(([k]) => !k.startsWith('Pod/') && k !== `ServiceAccount/${WORKER_NAME}`),
    ),
    corefile: corefileOf(dns.corefile, ns),
    targetObjects: Object.keys(targetObjects)
      .filter((k) => !notOurs.has(k))
      .sort(),
  };
}

async function betweenClusters(
  clients: Record<ClusterName, ClusterClient>,
  ns: string,
): Promise<BetweenClusters> {
  const sides = ['source', 'target'] as const;
  const [dns, services] = await Promise.all([
    Promise.all(sides.map(async (side) => dnsNamesOf((await readCorefile(clients[side])).corefile, ns))),
    Promise.all(
      sides.map(async (side) =>
        (await clients[side].core.listNamespacedService({ namespace: ns })).items
          .filter((s) => s.spec?.type === 'LoadBalancer')
          .map((s) => s.metadata!.name!)
          .sort(),
      ),
    ),
  ]);
  return {
    dnsNames: { source: dns[0]!, target: dns[1]! },
    memberServices: { source: services[0]!, target: services[1]! },
  };
}

/** The host names in the Corefile entries (hosts and rewrites) of the migrations in `ns`. */
function dnsNamesOf(corefile: string, ns: string): string[] {
  const owners = new Set(
    [...corefile.matchAll(/# etcd-stretch (?:rewrites )?begin (\S+) /g)]
      .map((m) => m[1]!)
      .filter((o) => o.startsWith(`${ns}/`)),
  );
  return [...owners].flatMap((o) => readMemberEntries(corefile, o).flatMap((e) => e.hostnames)).sort();
}

/** Removes what a scenario left: its namespaces and its entries in the source cluster's CoreDNS. */
async function cleanUp(ns: string, overrides?: ScenarioSpecOverrides): Promise<void> {
  await cleanUpScenario(ns, scenarioSpec(ns, overrides));
}

/**
 * A migration's entries in the source cluster's CoreDNS (kept there by default): other runs
 * would find its member names taken.
 */
export async function removeSourceDns(spec: Record<string, unknown>): Promise<void> {
  const parsed = parseMigrationSpec(spec);
  if (!parsed.ok) return;
  const env = { clients: kubeClientFactory(kubeconfigPath()) };
  await removeDnsEntries(env, {
    spec: parsed.spec,
    side: 'source',
    strategy: parsed.spec.dns.sourceCluster,
    hostnames: 'all',
  });
}

/** Removes a scenario's namespace in both clusters and its migration's source CoreDNS entries. */
export async function cleanUpScenario(ns: string, spec: Record<string, unknown>): Promise<void> {
  await removeSourceDns(spec);
  for (const c of [clusterClient('source'), clusterClient('target')])
    await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
}
