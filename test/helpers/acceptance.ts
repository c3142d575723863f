/**
 * The acceptance scenario of design.md, shared by the end-to-end test and the demo: the article's
 * 3-member etcd in cluster "source" with data in it, a live load client, the migration workflow
 * (real activities, a real Temporal server) to StatefulSet etcd-main in cluster "target", the load
 * client switched to the new members at the switch-clients gate. Returns the report.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Etcd3 } from 'etcd3';
import fs from 'node:fs';
import path from 'node:path';
import { kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { parseMigrationSpec } from '../../workflows/spec/validate.js';
import { abortSignal, approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import type { MigrationStatus } from '../../workflows/status.js';
import { checkHistory, type CheckResult } from './history-checker.js';
import {
  apply,
  clusterClient,
  createNamespace,
  loadManifests,
  readyPods,
  waitFor,
  type ClusterClient,
} from './kube.js';
import { LoadClient, type LoadSummary } from './load-client.js';
import { inProcessWorkers, type WorkerHost } from './worker-hosts.js';

export interface ScenarioOptions {
  client: Client;
  connection: NativeConnection;
  /** Abort at the switch-clients gate instead of approving it. */
  abortAtSwitch?: boolean;
  keys?: number;
  opsPerSecond?: number;
  onProgress?: (line: string) => void;
  /** Where the worker runs (default: in this process). */
  workers?: WorkerHost;
  /** Extra spec fields (gates, soak, ...). */
  specOverrides?: Record<string, unknown>;
  /** Delete the namespaces and this migration's DNS entries afterwards (default true; the demo keeps them). */
  cleanup?: boolean;
}

export interface ScenarioReport extends LoadSummary {
  outcome: string;
  lostWrites: number;
  check: CheckResult;
  durationMs: number;
  phases: { name: string; start: string; end?: string }[];
  finalMembers: { name: string; cluster: string; learner: boolean }[];
  hashKvConsistent: boolean;
  sourcePvcsRetained: boolean;
  sourceMemberIdsBefore: string[];
  sourceMemberIdsAfter: string[];
  temporalWorkflowId: string;
  namespace: string;
  status: MigrationStatus;
}

export function scenarioSpec(
  namespace: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 1,
    kind: 'EtcdMigration',
    source: {
      context: 'source',
      namespace,
      statefulSet: 'etcd',
      service: 'etcd',
      loadBalancer: { sourceRanges: ['198.18.2.0/24'] },
    },
    target: {
      context: 'target',
      namespace,
      statefulSet: 'etcd-main',
      loadBalancer: { sourceRanges: ['198.18.1.0/24'] },
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
    },
    soak: '5s',
    deadlines: { catchUp: '3m', loadBalancers: '2m', step: '3m' },
    ...overrides,
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
  const say = opts.onProgress ?? (() => undefined);
  const source = clusterClient('source');
  const target = clusterClient('target');
  const ns = await createNamespace(source, 'accept');
  await target.core.createNamespace({ body: { metadata: { name: ns } } });
  say(`namespace ${ns} in both clusters`);

  await apply(source, loadManifests(path.join(REPO_ROOT, 'test/fixtures/article-etcd.yaml'), ns));
  const pods = await readyPods(source, ns, 'app=etcd', 3);
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

  const load = new LoadClient({ endpoints: sourceEndpoints, opsPerSecond: opts.opsPerSecond ?? 150 });
  load.start();
  say('load client running');

  const taskQueue = `accept-${randomUUID()}`;
  const host = opts.workers ?? inProcessWorkers(opts.connection);
  const workflowId = `etcd-migration-${ns}`;
  const started = Date.now();
  let handle: WorkflowHandle<typeof etcdMigration> | undefined;
  let result: MigrationResult | undefined;
  let failure: unknown;
  let finalStatus: MigrationStatus | undefined;
  await host.run(taskQueue, workflowId, async () => {
    handle = await opts.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [{ spec: scenarioSpec(ns, opts.specOverrides) }],
    });
    say(`workflow ${workflowId} started`);
    let lastPhase = '';
    const atGate = await waitFor(
      'the switch-clients gate',
      async () => {
        const s = await handle!.query(statusQuery);
        if (s.phase && s.phase !== lastPhase) {
          lastPhase = s.phase;
          say(`phase ${s.phase}`);
        }
        if (['failed', 'rolled-back', 'aborted'].includes(s.workflowState))
          throw new Error(`workflow ${s.workflowState}: ${s.error}`);
        return s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients' ? s : undefined;
      },
      { timeoutMs: 15 * 60_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      failure = err;
      return undefined;
    });
    if (!atGate) return;
    if (opts.abortAtSwitch) {
      await handle.signal(abortSignal, { by: 'acceptance-test', reason: 'abort at the client switch' });
      say('aborted at the switch-clients gate');
    } else {
      // The clients move to the new voters (a learner serves no client requests).
      const voters = new Set(
        atGate.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
      );
      const newPods = (await target.core.listNamespacedPod({ namespace: ns })).items.filter((p) =>
        voters.has(p.metadata!.name!),
      );
      const targetEndpoints = newPods
        .filter((p) => p.status?.podIP)
        .map((p) => `http://${p.status!.podIP}:2379`);
      load.setEndpoints(targetEndpoints);
      say(`load client switched to ${targetEndpoints.join(', ')}`);
      await handle.executeUpdate(approveUpdate, {
        args: [{ gate: 'switch-clients', by: 'acceptance-test', comment: 'load client switched' }],
      });
    }
    try {
      result = await handle.result();
    } catch (err) {
      failure = err;
    }
    // Queries need a worker: ask while this one still runs.
    finalStatus = await handle.query(statusQuery).catch(() => undefined);
  });
  await load.stop();
  const durationMs = Date.now() - started;
  const status = finalStatus;
  say(
    `workflow ended: ${result?.outcome ?? `failed (${failure instanceof Error ? failure.message : String(failure)})`}`,
  );

  // What the clients' cluster holds at the end: new members after a migration, old ones after an abort.
  const finalEndpoints = load.currentEndpoints();
  const reader = new Etcd3({ hosts: finalEndpoints });
  const finalValues = new Map<string, string | undefined>();
  let hashKvConsistent = false;
  let sourceMemberIdsAfter: string[] = [];
  try {
    const keys = new Set(load.history.map((o) => o.key));
    for (const key of keys) finalValues.set(key, (await reader.get(key).string()) ?? undefined);
    const seedCount = await reader.getAll().prefix('data/').count();
    if (seedCount !== (opts.keys ?? 500)) finalValues.set('data/*count', String(seedCount));
    hashKvConsistent = result?.evidence?.hashKv?.agree ?? false;
    if (opts.abortAtSwitch) sourceMemberIdsAfter = await memberIds(sourceEndpoints);
  } finally {
    reader.close();
  }
  load.close();
  const check = checkHistory(load.history, finalValues);
  const summary = load.summary();
  const sourcePvcsRetained =
    pvcsBefore.length === 3 && (await sourcePvcs(source, ns)).join() === pvcsBefore.join();
  if (opts.cleanup ?? true) await cleanUp(ns, opts.specOverrides);
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
      },
      null,
      2,
    ),
  );
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
    hashKvConsistent,
    sourcePvcsRetained,
    sourceMemberIdsBefore: idsBefore,
    sourceMemberIdsAfter,
    temporalWorkflowId: workflowId,
    namespace: ns,
    status: status!,
  };
}

/** Removes what a scenario left: its namespaces and its entries in the source cluster's CoreDNS. */
async function cleanUp(ns: string, overrides?: Record<string, unknown>): Promise<void> {
  const parsed = parseMigrationSpec(scenarioSpec(ns, overrides));
  if (parsed.ok) {
    const env = { clients: kubeClientFactory(kubeconfigPath()) };
    await removeDnsEntries(env, {
      spec: parsed.spec,
      side: 'source',
      strategy: parsed.spec.dns.sourceCluster,
      hostnames: 'all',
    });
  }
  for (const c of [clusterClient('source'), clusterClient('target')])
    await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
}
