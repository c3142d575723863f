/**
 * The way back from a forward run stopped past the switch: the way back finishes the forward first
 * in a child run, then moves back into a new StatefulSet, under load. Started seconds after the
 * stop, its first preflight can find the member the forward promoted last not Ready yet (it failed
 * CI twice that way until that preflight waited for it). A way back that ends early reports what
 * the API server and the node agent say about each source pod's readiness.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Etcd3 } from 'etcd3';
import { runAcceptanceScenario, scenarioSpec } from '../helpers/acceptance.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { clusterClient, waitFor } from '../helpers/kube.js';
import { LoadClient } from '../helpers/load-client.js';
import { expectBackUnderLoad, podReadiness, removeMigrationDns, reverseSpec } from '../helpers/way-back.js';
import { inProcessWorkers } from '../helpers/worker-hosts.js';
import { startTestEnvironment } from '../workflow/harness.js';
import { abortSignal, approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import { migrationWorkflowId } from '../../core/workflow-id.js';
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

  it('goes back from a forward run stopped past the switch: finishes it first, then moves back under load', async () => {
    // The forward run is aborted once etcd-2 was removed: etcd-0 and etcd-1 still vote beside
    // etcd-main-0..2, and the clients are on the new members.
    let aborted = false;
    const forward = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      cleanup: false,
      onStatusAfterSwitch: true,
      onStatus: async ({ status, handle }) => {
        const removed = status.plan?.steps.find((s) => s.id === 'retire/etcd-2/remove-member');
        if (aborted || removed?.state !== 'done') return;
        aborted = true;
        await handle.signal(abortSignal, { by: 'reverse-test', reason: 'go back instead' });
      },
    });
    expect(forward.outcome).toBe('stopped');
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
    const pvcNames = async () =>
      (await source.core.listNamespacedPersistentVolumeClaim({ namespace })).items.map(
        (p) => p.metadata!.name!,
      );
    const oldPvcs = await pvcNames();
    const before = new Etcd3({ hosts: mainEndpoints });
    try {
      const voters = (await before.cluster.memberList({ linearizable: true })).members.map((m) => m.name);
      expect(voters.sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    } finally {
      before.close();
    }

    const load = new LoadClient({ endpoints: mainEndpoints, opsPerSecond: 120 });
    load.start();
    const taskQueue = `reverse-${randomUUID()}`;
    const workflowId = `etcd-migration-back-${namespace}`;
    let result: MigrationResult | undefined;
    const forwardSpec = parseMigrationSpec(scenarioSpec(namespace));
    if (!forwardSpec.ok) throw new Error('the scenario spec does not parse');
    const child = env.client.workflow.getHandle(migrationWorkflowId(forwardSpec.spec));
    let childSteps: { id: string; state: string; note?: string }[] = [];
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
        const back = (await podsOf(source, 'etcd-back-')).filter((p) => voters.has(p.metadata!.name!));
        load.setEndpoints(back.map((p) => `http://${p.status!.podIP}:2379`));
        await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-clients', by: 'reverse-test' }] });
        result = await handle.result();
        // Queries need a worker: asked while this one still runs.
        childSteps = (await child.query(statusQuery)).plan?.steps ?? [];
      });
    } finally {
      await load.stop();
    }
    await expectBackUnderLoad(load, result);

    // The forward migration was finished first, by a child run under its derived ID.
    expect((await child.describe()).parentExecution?.workflowId).toBe(workflowId);
    const finished = (await child.result()) as MigrationResult;
    expect(finished.outcome).toBe('completed');
    const adopted = childSteps.filter((st) => st.note?.includes('adopted')).map((st) => st.id);
    expect(adopted).toContain('retire/etcd-2/remove-member');
    expect(adopted).not.toContain('retire/etcd-1/remove-member');
    expect(childSteps.every((st) => st.state === 'done')).toBe(true);
    // Its old StatefulSet is gone, its volumes kept; the way back's members are new.
    const oldSts = await source.apps
      .readNamespacedStatefulSet({ name: 'etcd', namespace })
      .then(() => true)
      .catch(() => false);
    expect(oldSts).toBe(false);
    expect(oldPvcs).toHaveLength(3);
    expect(await pvcNames()).toEqual(expect.arrayContaining(oldPvcs));
  });
});
