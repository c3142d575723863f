/**
 * The way back: the same workflow with the sides swapped, into a new StatefulSet, under load.
 * After a completed forward run; and from a forward run stopped past the switch, where the way
 * back finishes the forward first in a child run. Started seconds after the stop, its first
 * preflight can find the member the forward promoted last not Ready yet (it failed CI twice that
 * way until that preflight waited for it). A way back that ends early reports what the API server
 * and the node agent say about each source pod's readiness.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Etcd3 } from 'etcd3';
import { runAcceptanceScenario, scenarioSpec, type ScenarioContext } from '../helpers/acceptance.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { migrationWorkflowId } from '../../core/workflow-id.js';
import { clusterClient } from '../helpers/kube.js';
import { LoadClient } from '../helpers/load-client.js';
import { cleanUpWayBack, expectBackUnderLoad, podsOf, runWayBack } from '../helpers/way-back.js';
import { startTestEnvironment } from '../workflow/harness.js';
import { abortSignal, statusQuery } from '../../workflows/messages.js';
import type { MigrationResult } from '../../workflows/migration-workflow.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('reverse migration: the same workflow moves the etcd back', () => {
  // Each run's DNS entries go before the next run: its preflight would find the names taken.
  const namespaces: string[] = [];
  afterEach(async () => {
    for (const ns of namespaces.splice(0)) await cleanUpWayBack(ns, scenarioSpec(ns));
  });

  it('migrates forward, then back to the source cluster under load, with no failed operation', async () => {
    const forward = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      cleanup: false,
    });
    expect(forward.outcome).toBe('completed');
    const ns = forward.namespace;
    namespaces.push(ns);
    const mainEndpoints = (await podsOf('target', ns, 'etcd-main-')).map(
      (p) => `http://${p.status!.podIP}:2379`,
    );
    expect(mainEndpoints).toHaveLength(3);

    const load = new LoadClient({ endpoints: mainEndpoints, opsPerSecond: 120 });
    load.start();
    let back;
    try {
      back = await runWayBack(env, ns, load);
    } finally {
      await load.stop();
    }
    await expectBackUnderLoad(load, back?.result);
  });

  it('goes back from a forward run stopped past the switch: finishes it first, then moves back under load', async () => {
    // The forward run is aborted as its first removal (etcd-2's) starts, past the switch-clients
    // gate: it goes on to its first safe point, etcd-2 removed (2 + 3 voters, no learner), so
    // etcd-0 and etcd-1 still vote beside etcd-main-0..2, and the clients are on the new members.
    // The abort goes at the removal's activity, not at a status poll: a whole retire takes about
    // two seconds, and a poll could come after the next removal had started.
    let handle: ScenarioContext['handle'] | undefined;
    let aborted = false;
    const forward = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      cleanup: false,
      onStatus: (ctx) => {
        handle = ctx.handle;
        return Promise.resolve();
      },
      beforeStep: async (stepId) => {
        if (aborted || stepId !== 'retire/etcd-2/remove-member') return;
        aborted = true;
        await handle!.signal(abortSignal, { by: 'reverse-test', reason: 'go back instead' });
      },
    });
    expect(aborted).toBe(true);
    expect(forward.outcome).toBe('stopped');
    const namespace = forward.namespace;
    namespaces.push(namespace);
    const source = clusterClient('source');
    const mainEndpoints = (await podsOf('target', namespace, 'etcd-main-')).map(
      (p) => `http://${p.status!.podIP}:2379`,
    );
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
    const forwardSpec = parseMigrationSpec(scenarioSpec(namespace));
    if (!forwardSpec.ok) throw new Error('the scenario spec does not parse');
    const child = env.client.workflow.getHandle(migrationWorkflowId(forwardSpec.spec));
    let childSteps: { id: string; state: string; note?: string }[] = [];
    let back;
    try {
      back = await runWayBack(env, namespace, load, async () => {
        childSteps = (await child.query(statusQuery)).plan?.steps ?? [];
      });
    } finally {
      await load.stop();
    }
    await expectBackUnderLoad(load, back?.result);

    // The forward migration was finished first, by a child run under its derived ID.
    expect((await child.describe()).parentExecution?.workflowId).toBe(back.workflowId);
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
