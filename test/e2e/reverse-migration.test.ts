import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario, scenarioSpec } from '../helpers/acceptance.js';
import { clusterClient, waitFor } from '../helpers/kube.js';
import { LoadClient } from '../helpers/load-client.js';
import { expectBackUnderLoad, removeMigrationDns, reverseSpec } from '../helpers/way-back.js';
import { inProcessWorkers } from '../helpers/worker-hosts.js';
import { startTestEnvironment } from '../workflow/harness.js';
import { approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('reverse migration: the same workflow moves the etcd back', () => {
  let ns: string | undefined;
  afterAll(async () => {
    if (!ns) return;
    await removeMigrationDns(scenarioSpec(ns));
    await removeMigrationDns(reverseSpec(ns));
    for (const c of [clusterClient('source'), clusterClient('target')]) {
      await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
  });

  it('migrates forward, then back to the source cluster under load, with no failed operation', async () => {
    const forward = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      cleanup: false,
    });
    expect(forward.outcome).toBe('completed');
    ns = forward.namespace;
    const namespace = ns;
    const source = clusterClient('source');
    const target = clusterClient('target');
    const podsOf = async (c: typeof source, prefix: string) =>
      (await c.core.listNamespacedPod({ namespace })).items.filter(
        (p) => p.metadata!.name!.startsWith(prefix) && p.status?.podIP && !p.metadata?.deletionTimestamp,
      );
    const mainEndpoints = (await podsOf(target, 'etcd-main-')).map((p) => `http://${p.status!.podIP}:2379`);
    expect(mainEndpoints).toHaveLength(3);

    const load = new LoadClient({ endpoints: mainEndpoints, opsPerSecond: 120 });
    load.start();
    const taskQueue = `reverse-${randomUUID()}`;
    const workflowId = `etcd-migration-back-${namespace}`;
    let result: MigrationResult | undefined;
    try {
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
            if (['failed', 'rolled-back', 'aborted'].includes(s.workflowState)) {
              throw new Error(`way back ${s.workflowState}: ${s.error}`);
            }
            return s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients'
              ? s
              : undefined;
          },
          { timeoutMs: 10 * 60_000, intervalMs: 500 },
        );
        const voters = new Set(
          atGate.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
        );
        const back = (await podsOf(source, 'etcd-back-')).filter((p) => voters.has(p.metadata!.name!));
        load.setEndpoints(back.map((p) => `http://${p.status!.podIP}:2379`));
        await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-clients', by: 'reverse-test' }] });
        result = await handle.result();
      });
    } finally {
      await load.stop();
    }
    await expectBackUnderLoad(load, result);
  });
});
