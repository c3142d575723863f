/** The way back after a client switch (test/e2e/reverse-migration.test.ts). */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Etcd3 } from 'etcd3';
import { expect } from 'vitest';
import { clusterDir, type ClusterName } from '../../sandbox/config.js';
import { approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import { cleanUpScenario, removeSourceDns } from './acceptance.js';
import { checkHistory } from './history-checker.js';
import { clusterClient, waitFor } from './kube.js';
import { readFinalValues, type LoadClient } from './load-client.js';
import { inProcessWorkers } from './worker-hosts.js';

/** The same workflow with the sides swapped, into a new StatefulSet (old volumes never start again). */
export function reverseSpec(ns: string): Record<string, unknown> {
  return {
    version: 1,
    kind: 'EtcdMigration',
    source: {
      context: 'target',
      namespace: ns,
      statefulSet: 'etcd-main',
      service: 'etcd-main',
      loadBalancer: { sourceRanges: ['198.18.1.0/24'] },
    },
    target: {
      context: 'source',
      namespace: ns,
      // Not `etcd`: its PVCs still hold the old members' data, which must never start again.
      statefulSet: 'etcd-back',
      loadBalancer: { sourceRanges: ['198.18.2.0/24'] },
    },
    gates: { 'switch-clients': 'manual', cleanup: 'auto' },
    soak: '5s',
    deadlines: { catchUp: '3m', loadBalancers: '2m', step: '3m' },
  };
}

/** What the API server and the node agent say about a pod's readiness, for a failure message. */
export async function podReadiness(cluster: ClusterName, namespace: string, pod: string): Promise<string> {
  const { core } = clusterClient(cluster);
  const status = await core
    .readNamespacedPod({ name: pod, namespace })
    .then((p) => ({
      conditions: p.status?.conditions?.map(
        (c) => `${c.type}=${c.status}@${c.lastTransitionTime?.toISOString()}`,
      ),
      containers: p.status?.containerStatuses?.map((c) => ({
        ready: c.ready,
        restarts: c.restartCount,
        state: c.state,
      })),
    }))
    .catch((err: unknown) => String(err));
  const agentLog = path.join(clusterDir(cluster), 'logs', 'node-agent.log');
  const lines = fs.existsSync(agentLog)
    ? fs
        .readFileSync(agentLog, 'utf8')
        .split('\n')
        .filter((l) => l.includes(pod) || l.includes('reconcile:'))
        .slice(-15)
    : [`(no ${agentLog})`];
  return `${cluster}/${namespace}/${pod}: ${JSON.stringify(status)}\n  ${lines.join('\n  ')}`;
}

/**
 * After the way back under `load` (stopped here): no failed operation, no history violation, the
 * 500 keys written before the forward migration came along both ways, and the run ended with
 * etcd-back-0..2 voting, hashKV equal.
 */
export async function expectBackUnderLoad(
  load: LoadClient,
  result: MigrationResult | undefined,
): Promise<void> {
  const reader = new Etcd3({ hosts: load.currentEndpoints() });
  let finalValues: Map<string, string | undefined>;
  try {
    finalValues = await readFinalValues(reader, load.history);
    expect(await reader.getAll().prefix('data/').count()).toBe(500);
  } finally {
    reader.close();
    load.close();
  }
  const summary = load.summary();
  const check = checkHistory(load.history, finalValues);
  expect(result?.outcome).toBe('completed');
  expect(result?.finalMembers.map((m) => m.name).sort()).toEqual([
    'etcd-back-0',
    'etcd-back-1',
    'etcd-back-2',
  ]);
  expect(result?.finalMembers.every((m) => m.side === 'target' && !m.isLearner)).toBe(true);
  expect(result?.evidence?.hashKv?.agree).toBe(true);
  expect(summary.failedOps, summary.firstFailures.join('\n')).toBe(0);
  expect(check.violations).toEqual([]);
}

/** The namespace's running pods whose names start with `prefix`. */
export async function podsOf(cluster: ClusterName, namespace: string, prefix: string): Promise<V1Pod[]> {
  return (await clusterClient(cluster).core.listNamespacedPod({ namespace })).items.filter(
    (p) => p.metadata!.name!.startsWith(prefix) && p.status?.podIP && !p.metadata?.deletionTimestamp,
  );
}

export interface WayBack {
  workflowId: string;
  result: MigrationResult;
}

/**
 * Runs the way back (reverseSpec) in `namespace` under `load`, with its own worker: at the
 * switch-clients gate the load moves to the new voters and the gate is approved. A way back that
 * ends before that gate fails at once, with what the API server and the node agent say about each
 * source pod's readiness. `whileRunning` is called with the workflow's result while the worker
 * still runs (queries need one).
 */
export async function runWayBack(
  env: TestWorkflowEnvironment,
  namespace: string,
  load: LoadClient,
  whileRunning: (result: MigrationResult) => Promise<void> = () => Promise.resolve(),
): Promise<WayBack> {
  const taskQueue = `reverse-${randomUUID()}`;
  const workflowId = `etcd-migration-back-${namespace}`;
  let result: MigrationResult | undefined;
  await inProcessWorkers(env.nativeConnection).run(taskQueue, workflowId, async () => {
    const handle = await env.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [{ spec: reverseSpec(namespace) }],
    });
    const atGate = await waitFor(
      'the switch-clients gate of the way back',
      async () => {
        const s = await handle.query(statusQuery);
        const ended = ['failed', 'rolled-back', 'aborted'].includes(s.workflowState);
        return ended || (s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients')
          ? s
          : undefined;
      },
      { timeoutMs: 10 * 60_000, intervalMs: 500 },
    );
    if (atGate.waitingFor?.kind !== 'approval') {
      const pods = await Promise.all(
        ['etcd-main-0', 'etcd-main-1', 'etcd-main-2'].map((p) => podReadiness('target', namespace, p)),
      );
      throw new Error(`way back ${atGate.workflowState}: ${atGate.error}\n${pods.join('\n')}`);
    }
    const voters = new Set(
      atGate.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
    );
    const back = (await podsOf('source', namespace, 'etcd-back-')).filter((p) =>
      voters.has(p.metadata!.name!),
    );
    load.setEndpoints(back.map((p) => `http://${p.status!.podIP}:2379`));
    await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-clients', by: 'reverse-test' }] });
    result = await handle.result();
    await whileRunning(result);
  });
  return { workflowId, result: result! };
}

/** Both migrations' DNS entries and the namespace in both clusters. */
export async function cleanUpWayBack(namespace: string, forwardSpec: Record<string, unknown>): Promise<void> {
  await removeSourceDns(reverseSpec(namespace));
  await cleanUpScenario(namespace, forwardSpec);
}
