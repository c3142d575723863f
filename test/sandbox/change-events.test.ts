/**
 * What an activity changes in Kubernetes says so on the object (issue #17, item 5): as the worker
 * (deploy/rbac-source.yaml's grant only), inside an activity, a member Service it applies carries
 * the workflow ID, and its apply and its deletion each leave an Event on the Service naming the
 * workflow and the plan step. Outside an activity nothing is added.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CoreV1Event } from '@kubernetes/client-node';
import { withStepOf } from '../../activities/change-origin.js';
import { EVENT_COMPONENT, WORKFLOW_ID_ANNOTATION } from '../../activities/kubernetes/change-events.js';
import { memberServiceName } from '../../activities/kubernetes/labels.js';
import { deleteMemberServices, ensureMemberServices } from '../../activities/kubernetes/member-services.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { waitFor, type ClusterClient } from '../helpers/kube.js';
import { randomSuffix, sourceNamespaceWithWorker, type kubeEnv } from './kubernetes-fixtures.js';

describe('Events and the workflow ID on what an activity changes', () => {
  let source: ClusterClient;
  let ns: string;
  let spec: MigrationSpec;
  let worker: ReturnType<typeof kubeEnv>;
  const cleanups: (() => Promise<void>)[] = [];
  const workflowId = `events-test-${randomSuffix()}`;

  /** Runs `fn` as an activity of `workflowId` whose input names `step`. */
  const inActivity = <T>(
    activityType: string,
    step: { stepId?: string; undoes?: string },
    fn: () => Promise<T>,
  ) =>
    new MockActivityEnvironment({
      activityType,
      workflowExecution: { workflowId, runId: 'run-1' },
    }).run(() => withStepOf(step, fn));

  const eventsOn = async (name: string): Promise<CoreV1Event[]> =>
    (await source.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` }))
      .items;

  beforeAll(async () => {
    ({ source, ns, spec, worker } = await sourceNamespaceWithWorker('events', cleanups));
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('an applied Service carries the workflow ID; its apply and deletion leave Events naming workflow and step', async () => {
    const member = 'etcd-0';
    const name = memberServiceName(member);
    const stepId = 'expose/source/member-services';
    await inActivity('ensureMemberServices', { stepId }, () =>
      ensureMemberServices(worker(), { spec, side: 'source', members: [member] }),
    );
    const svc = await source.core.readNamespacedService({ name, namespace: ns });
    expect(svc.metadata?.annotations?.[WORKFLOW_ID_ANNOTATION]).toBe(workflowId);

    const applied = await waitFor(
      'the Event of the apply',
      async () => (await eventsOn(name)).find((e) => e.reason === 'Applied'),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(applied.involvedObject).toMatchObject({
      kind: 'Service',
      name,
      namespace: ns,
      uid: svc.metadata?.uid,
    });
    expect(applied.source?.component).toBe(EVENT_COMPONENT);
    expect(applied.type).toBe('Normal');
    expect(applied.message).toContain(`workflow ${workflowId}`);
    expect(applied.message).toContain(`step ${stepId}`);

    await inActivity('deleteMemberServices', { undoes: stepId }, () =>
      deleteMemberServices(worker(), { spec, side: 'source', members: [member] }),
    );
    const deleted = await waitFor(
      'the Event of the deletion',
      async () => (await eventsOn(name)).find((e) => e.reason === 'Deleted'),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(deleted.message).toContain(`workflow ${workflowId}, undo of step ${stepId}`);
  });

  it('outside an activity the clients add nothing', async () => {
    const member = 'etcd-1';
    const name = memberServiceName(member);
    await ensureMemberServices(worker(), { spec, side: 'source', members: [member] });
    const svc = await source.core.readNamespacedService({ name, namespace: ns });
    expect(svc.metadata?.annotations?.[WORKFLOW_ID_ANNOTATION]).toBeUndefined();
    expect(await eventsOn(name)).toEqual([]);
  });
});
