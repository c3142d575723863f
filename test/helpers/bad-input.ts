/**
 * The bad-input suite's shared setup (issue #6): ONE source etcd (the article fixture in one fresh
 * namespace), ONE Temporal test environment and ONE worker with the real activities; each case
 * runs the migration workflow to its end and proves that nothing changed.
 *
 * The worker's kubeconfig is the sandbox's plus one context, `unreachable`, whose API server
 * address nothing listens on (the "unreachable API server" case).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Etcd3 } from 'etcd3';
import YAML from 'yaml';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { removeHostsEntries } from '../../activities/kubernetes/corefile-hosts.js';
import { clusterDir, kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import type { MigrationActivities } from '../../core/activity-contract.js';
import { WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { startTestEnvironment, workflowBundle } from './temporal-test-env.js';
import { scenarioSpec } from './acceptance.js';
import {
  apply,
  createNamespaceInBoth,
  deleteNamespace,
  loadManifests,
  readyPods,
  waitFor,
  type ClusterClient,
} from './kube.js';

export const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/article-etcd.yaml');
/**
 * Target StatefulSet of every case: not the scenario's `etcd-main`, so that no name this suite
 * puts into (or looks up in) the shared CoreDNS hosts blocks is one a concurrent scenario uses.
 */
export const TARGET = 'etcd-bad';
export const UNREACHABLE_CONTEXT = 'unreachable';

type Section = Record<string, unknown> & { loadBalancer: Record<string, unknown> };
/** A mutable copy of the scenario spec for the suite's namespace (any value may be put anywhere). */
export type SpecDraft = Record<string, unknown> & { source: Section; target: Section };

export interface Suite {
  ns: string;
  source: ClusterClient;
  target: ClusterClient;
  env: TestWorkflowEnvironment;
  activities: MigrationActivities;
  taskQueue: string;
  /** Pod IP endpoints of the fixture's members, by pod name. */
  endpoints: Record<string, string>;
  kubeconfig: string;
  stop: () => Promise<void>;
}

export function baseSpec(suite: Pick<Suite, 'ns'>): SpecDraft {
  const spec = structuredClone(scenarioSpec(suite.ns)) as SpecDraft;
  spec.target.statefulSet = TARGET;
  return spec;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface KubeconfigFile {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  users: unknown[];
  [key: string]: unknown;
}

/** The sandbox kubeconfig plus the `unreachable` context (same CA and user, a closed port). */
async function writeWorkerKubeconfig(ns: string): Promise<string> {
  const config = YAML.parse(fs.readFileSync(kubeconfigPath(), 'utf8')) as KubeconfigFile;
  const sourceContext = config.contexts.find((c) => c.name === 'source')!.context;
  const sourceCluster = config.clusters.find((c) => c.name === sourceContext.cluster)!.cluster;
  config.clusters.push({
    name: UNREACHABLE_CONTEXT,
    cluster: { ...sourceCluster, server: `https://127.0.0.1:${await closedPort()}` },
  });
  config.contexts.push({
    name: UNREACHABLE_CONTEXT,
    context: { cluster: UNREACHABLE_CONTEXT, user: sourceContext.user },
  });
  const file = path.join(os.tmpdir(), `etcd-stretch-bad-input-${ns}.kubeconfig`);
  fs.writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
  return file;
}

export async function startSuite(prefix: string): Promise<Suite> {
  const { source, target, ns } = await createNamespaceInBoth(prefix);
  await apply(source, loadManifests(FIXTURE, ns));
  const pods = await readyPods(source, ns, 'app=etcd', 3);
  const endpoints = Object.fromEntries(
    pods.map((p) => [p.metadata!.name!, `http://${p.status!.podIP}:2379`]),
  );
  const seed = new Etcd3({ hosts: Object.values(endpoints) });
  try {
    for (let i = 0; i < 20; i++) await seed.put(`data/${i}`).value(`seed-${i}`);
  } finally {
    seed.close();
  }
  const kubeconfig = await writeWorkerKubeconfig(ns);
  const env = await startTestEnvironment();
  const activities = createMigrationActivities({ kubeconfig });
  const taskQueue = `bad-input-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  const running = worker.run();
  const stop = async () => {
    worker.shutdown();
    await running.catch(() => undefined);
    await env.teardown();
    fs.rmSync(kubeconfig, { force: true });
    await deleteNamespace(source, ns);
    await deleteNamespace(target, ns);
  };
  return { ns, source, target, env, activities, taskQueue, endpoints, kubeconfig, stop };
}

// ------------------------------------------------------------------------------------------------
// Running the workflow to its end.

export interface WorkflowOutcome {
  /** The failure type (`InvalidSpec`, `PreflightRefused`, ...), or `completed`. */
  type: string;
  message: string;
  refusals: string[];
  /** Activity types the workflow scheduled, in order. */
  activities: string[];
}

let runs = 0;

export async function runWorkflow(suite: Suite, spec: unknown): Promise<WorkflowOutcome> {
  const handle = await suite.env.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
    taskQueue: suite.taskQueue,
    workflowId: `bad-input-${suite.ns}-${++runs}`,
    args: [{ spec }],
    workflowExecutionTimeout: '5 minutes',
  });
  const error: unknown = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
  if (error === undefined) return { type: 'completed', message: '', refusals: [], activities };
  if (!(error instanceof WorkflowFailedError) || !(error.cause instanceof ApplicationFailure)) {
    return {
      type: 'unexpected',
      message: error instanceof Error ? error.message : JSON.stringify(error),
      refusals: [],
      activities,
    };
  }
  const details = error.cause.details?.[0] as { refusals?: string[] } | undefined;
  return {
    type: error.cause.type ?? 'unknown',
    message: error.cause.message,
    refusals: details?.refusals ?? [],
    activities,
  };
}

// ------------------------------------------------------------------------------------------------
// What the migration would touch, before and after.

export interface TouchedState {
  /** Member IDs of the fixture etcd (sorted). */
  memberIds: string[];
  /** `kind/name` -> resourceVersion of every object in the suite's source namespace. */
  source: Record<string, string>;
  /** The same in the target namespace. */
  target: Record<string, string>;
  /**
   * `kube-system/coredns` Corefile of each cluster, without the hosts blocks of migrations of
   * other namespaces (engineers share the sandbox; their runs edit the same ConfigMap).
   */
  corefile: { source: string; target: string };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The member list as any member that answers sees it (linearizable). */
export async function memberIdsOf(endpoints: string[]): Promise<string[]> {
  return Promise.any(
    endpoints.map(async (ep) => {
      const c = new Etcd3({ hosts: ep });
      try {
        const r = await withTimeout(
          c.cluster.memberList({ linearizable: true }),
          5000,
          `member list via ${ep}`,
        );
        return r.members.map((m) => m.ID).sort();
      } finally {
        c.close();
      }
    }),
  );
}

export async function objectVersions(c: ClusterClient, namespace: string): Promise<Record<string, string>> {
  const lists: [string, Promise<{ items: { metadata?: { name?: string; resourceVersion?: string } }[] }>][] =
    [
      ['StatefulSet', c.apps.listNamespacedStatefulSet({ namespace })],
      ['Service', c.core.listNamespacedService({ namespace })],
      ['Pod', c.core.listNamespacedPod({ namespace })],
      ['PersistentVolumeClaim', c.core.listNamespacedPersistentVolumeClaim({ namespace })],
      ['ConfigMap', c.core.listNamespacedConfigMap({ namespace })],
      ['Secret', c.core.listNamespacedSecret({ namespace })],
      ['ServiceAccount', c.core.listNamespacedServiceAccount({ namespace })],
    ];
  // All at once, awaited together: a cluster that does not answer fails this once (no
  // unhandled rejections of the lists after the first).
  const answers = await Promise.all(lists.map(([, list]) => list));
  const out: Record<string, string> = {};
  lists.forEach(([kind], i) => {
    for (const o of answers[i]!.items) out[`${kind}/${o.metadata!.name!}`] = o.metadata!.resourceVersion!;
  });
  return out;
}

export async function readCorefile(c: ClusterClient): Promise<{ corefile: string; resourceVersion: string }> {
  const cm = await c.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' });
  return { corefile: cm.data?.Corefile ?? '', resourceVersion: cm.metadata!.resourceVersion! };
}

/** The Corefile without the etcd-stretch blocks of owners outside `ns`. */
export function corefileOf(corefile: string, ns: string): string {
  let out = corefile;
  const owners = new Set([...corefile.matchAll(/# etcd-stretch begin (\S+) /g)].map((m) => m[1]!));
  for (const owner of owners) {
    if (!owner.startsWith(`${ns}/`)) out = removeHostsEntries(out, owner, 'all');
  }
  return out;
}

export async function snapshotTouchedState(suite: Suite): Promise<TouchedState> {
  const [memberIds, source, target, sourceDns, targetDns] = await Promise.all([
    memberIdsOf(Object.values(suite.endpoints)),
    objectVersions(suite.source, suite.ns),
    objectVersions(suite.target, suite.ns),
    readCorefile(suite.source),
    readCorefile(suite.target),
  ]);
  return {
    memberIds,
    source,
    target,
    corefile: {
      source: corefileOf(sourceDns.corefile, suite.ns),
      target: corefileOf(targetDns.corefile, suite.ns),
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Cluster-state faults.

/** Waits until the unmodified spec passes preflight again: the fixture is as the suite needs it. */
export async function awaitCleanPreflight(suite: Suite): Promise<string[]> {
  const parsed = parseMigrationSpec(baseSpec(suite));
  if (!parsed.ok) throw new Error(`base spec invalid: ${JSON.stringify(parsed.errors)}`);
  let last: string[] = [];
  try {
    await waitFor(
      'a clean preflight of the unmodified spec',
      async () => {
        last = (await suite.activities.preflight({ spec: parsed.spec })).refusals;
        return last.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
  } catch {
    throw new Error(`the fixture did not come back: preflight still refuses:\n- ${last.join('\n- ')}`);
  }
  return last;
}

/** The process group of a pod's etcd container (the sandbox runs containers as local processes). */
export async function etcdProcessGroup(suite: Suite, pod: string): Promise<number> {
  const p = await suite.source.core.readNamespacedPod({ name: pod, namespace: suite.ns });
  const dir = path.join(clusterDir('source'), 'pods', `${suite.ns}_${pod}_${p.metadata!.uid!.slice(0, 8)}`);
  return Number(fs.readFileSync(path.join(dir, 'etcd.pid'), 'utf8').trim());
}

/** Name and ID of a member that is not the leader (stopping the leader would also move leadership). */
export async function followerOf(suite: Suite): Promise<{ name: string; id: string }> {
  for (const [name, ep] of Object.entries(suite.endpoints)) {
    const c = new Etcd3({ hosts: ep });
    try {
      const s = await c.maintenance.status();
      if (s.leader !== s.header.member_id) return { name, id: s.header.member_id };
    } finally {
      c.close();
    }
  }
  throw new Error('no follower found');
}

export async function withEtcd<T>(suite: Suite, fn: (c: Etcd3) => Promise<T>): Promise<T> {
  const c = new Etcd3({ hosts: Object.values(suite.endpoints) });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/**
 * Adds a learner that never starts (an unfinished membership change); returns its ID. etcd refuses
 * membership changes until its leader has been connected to every voter for 5 s ("unhealthy
 * cluster"), e.g. just after a member was stopped: that is waited out.
 */
export async function addLearner(suite: Suite, peerURL: string): Promise<string> {
  const added = await waitFor(
    'etcd accepting a new learner',
    () =>
      withEtcd(suite, (c) => c.cluster.memberAdd({ peerURLs: [peerURL], isLearner: true })).catch(
        (err: unknown) => {
          if (err instanceof Error && err.message.includes('unhealthy cluster')) return undefined;
          throw err;
        },
      ),
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  return added.member.ID;
}

/** Read-modify-write of a cluster's CoreDNS Corefile, retried on conflicts (the ConfigMap is shared). */
export async function editCorefile(c: ClusterClient, edit: (corefile: string) => string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const cm = await c.core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' });
    const next = edit(cm.data?.Corefile ?? '');
    if (next === cm.data?.Corefile) return;
    try {
      await c.core.replaceNamespacedConfigMap({
        name: 'coredns',
        namespace: 'kube-system',
        body: { ...cm, data: { ...cm.data, Corefile: next } },
      });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
    }
  }
}
