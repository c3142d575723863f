import { describe, expect, it } from 'vitest';
import {
  PatchStrategy,
  type AppsV1Api,
  type CoreV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { withStepOf } from '../../activities/change-origin.js';
import {
  WORKFLOW_ID_ANNOTATION,
  changeEvent,
  changeOfMethod,
  recordingChanges,
} from '../../activities/kubernetes/change-events.js';

describe('changeOfMethod', () => {
  it('reads the verb, kind and object of a namespaced write', () => {
    expect(
      changeOfMethod('patchNamespacedStatefulSetScale', 'apps/v1', { name: 'etcd', namespace: 'db' }),
    ).toEqual({
      verb: 'scale',
      ref: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'etcd', namespace: 'db' },
    });
    expect(
      changeOfMethod('createNamespacedService', 'v1', { namespace: 'db', body: { metadata: { name: 'x' } } }),
    ).toMatchObject({ verb: 'create', ref: { kind: 'Service', name: 'x' } });
    expect(
      changeOfMethod('deleteNamespacedPersistentVolumeClaim', 'v1', { name: 'd', namespace: 'db' })?.verb,
    ).toBe('delete');
  });
  it('ignores reads, Events and calls without an object', () => {
    expect(changeOfMethod('readNamespacedService', 'v1', { name: 'x', namespace: 'db' })).toBeUndefined();
    expect(changeOfMethod('createNamespacedEvent', 'v1', { namespace: 'db', body: {} })).toBeUndefined();
    expect(changeOfMethod('patchNamespacedConfigMap', 'v1', { namespace: 'db' })).toBeUndefined();
  });
});

describe('changeEvent', () => {
  it('names the object, the workflow and the step (or the step an undo reverses)', () => {
    const at = new Date('2026-12-06T23:00:00Z');
    const origin = {
      workflowId: 'wf-1',
      runId: 'r',
      activityType: 'scaleSource',
      attempt: 2,
      stepId: 'retire/etcd-2/scale',
    };
    const e = changeEvent(
      {
        verb: 'scale',
        ref: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'etcd', namespace: 'db' },
        uid: 'u1',
      },
      origin,
      at,
      'host',
    );
    expect(e).toMatchObject({
      metadata: { generateName: 'etcd.', namespace: 'db' },
      involvedObject: {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: 'etcd',
        namespace: 'db',
        uid: 'u1',
      },
      reason: 'Scaled',
      type: 'Normal',
      source: { component: 'etcd-stretch' },
      reportingComponent: 'etcd-stretch',
      reportingInstance: 'host',
      count: 1,
    });
    expect(e.message).toBe(
      'etcd-stretch scaled StatefulSet etcd: workflow wf-1, step retire/etcd-2/scale (scaleSource, attempt 2)',
    );
    const undo = changeEvent(
      { verb: 'delete', ref: { apiVersion: 'v1', kind: 'Service', name: 's', namespace: 'db' } },
      {
        ...origin,
        stepId: undefined,
        undoes: 'expose/source/member-services',
        activityType: 'deleteMemberServices',
      },
      at,
      'host',
    );
    expect(undo.reason).toBe('Deleted');
    expect(undo.message).toContain('workflow wf-1, undo of step expose/source/member-services');
  });
});

/** Fake APIs that record what they were asked. */
function fakes() {
  const calls: { method: string; args: unknown[] }[] = [];
  type Fn = (...args: unknown[]) => Promise<KubernetesObject>;
  const api = (names: string[]): Record<string, Fn> =>
    Object.fromEntries(
      names.map((n) => [
        n,
        (...args: unknown[]) => {
          calls.push({ method: n, args });
          const body = (args[0] as { body?: KubernetesObject }).body ?? (args[0] as KubernetesObject);
          return Promise.resolve({ metadata: { ...body?.metadata, uid: `uid-${n}` } });
        },
      ]),
    );
  const clients = {
    core: api([
      'createNamespacedService',
      'createNamespacedEvent',
      'readNamespacedService',
    ]) as unknown as CoreV1Api,
    apps: api(['patchNamespacedStatefulSetScale']) as unknown as AppsV1Api,
    objects: api(['patch', 'read']) as { patch: Fn; read: Fn },
  };
  return { calls, clients };
}

describe('recordingChanges', () => {
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'etcd-0-lb', namespace: 'db' } };

  it('inside an activity: applies carry the workflow ID and each write leaves an Event', async () => {
    const { calls, clients } = fakes();
    const recording = recordingChanges(clients, () => undefined);
    const env = new MockActivityEnvironment({
      activityType: 'ensureMemberServices',
      workflowExecution: { workflowId: 'wf-9', runId: 'r' },
    });
    await env.run(() =>
      withStepOf({ stepId: 'expose/source/member-services' }, async () => {
        await recording.objects.patch(
          service,
          undefined,
          undefined,
          'etcd-stretch',
          true,
          PatchStrategy.ServerSideApply,
        );
        await recording.apps.patchNamespacedStatefulSetScale({ name: 'etcd', namespace: 'db', body: {} });
        await recording.core.readNamespacedService({ name: 'etcd-0-lb', namespace: 'db' });
      }),
    );
    const applied = calls.find((c) => c.method === 'patch')!.args[0] as KubernetesObject;
    expect(applied.metadata?.annotations?.[WORKFLOW_ID_ANNOTATION]).toBe('wf-9');
    const events = calls
      .filter((c) => c.method === 'createNamespacedEvent')
      .map(
        (c) =>
          (
            c.args[0] as {
              body: { reason: string; involvedObject: { name: string; uid?: string }; message: string };
            }
          ).body,
      );
    expect(events.map((e) => [e.reason, e.involvedObject.name])).toEqual([
      ['Applied', 'etcd-0-lb'],
      ['Scaled', 'etcd'],
    ]);
    expect(events[0]!.involvedObject.uid).toBe('uid-patch');
    expect(events[0]!.message).toContain('workflow wf-9, step expose/source/member-services');
  });

  it('writes the Event beside the next call, and the activity ends once it is written', async () => {
    const { calls, clients } = fakes();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    (clients.core as unknown as Record<string, unknown>).createNamespacedEvent = async (
      ...args: unknown[]
    ) => {
      await held;
      calls.push({ method: 'createNamespacedEvent (written)', args });
      return {};
    };
    const recording = recordingChanges(clients, () => undefined);
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'wf-9', runId: 'r' } });
    let ended = false;
    const activity = env
      .run(() =>
        withStepOf({ stepId: 'retire/etcd-2/scale-source' }, async () => {
          await recording.apps.patchNamespacedStatefulSetScale({ name: 'etcd', namespace: 'db', body: {} });
          // The scale returned although its Event is still being written.
          await recording.core.readNamespacedService({ name: 'etcd-0-lb', namespace: 'db' });
        }),
      )
      .then(() => (ended = true));
    await expect.poll(() => calls.map((c) => c.method)).toContain('readNamespacedService');
    expect(ended).toBe(false);
    release();
    await activity;
    expect(calls.map((c) => c.method)).toEqual([
      'patchNamespacedStatefulSetScale',
      'readNamespacedService',
      'createNamespacedEvent (written)',
    ]);
  });

  it('an Event that cannot be written costs a warning, not the change', async () => {
    const { clients } = fakes();
    (clients.core as unknown as Record<string, unknown>).createNamespacedEvent = () =>
      Promise.reject(Object.assign(new Error('forbidden'), { code: 403 }));
    const warnings: string[] = [];
    const recording = recordingChanges(clients, (m) => warnings.push(m));
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'wf-9', runId: 'r' } });
    const result: KubernetesObject = await env.run(() =>
      recording.core.createNamespacedService({ namespace: 'warn-ns', body: { metadata: { name: 's' } } }),
    );
    expect(result.metadata?.annotations?.[WORKFLOW_ID_ANNOTATION]).toBe('wf-9');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 403');
  });

  it('outside an activity the clients write as before', async () => {
    const { calls, clients } = fakes();
    const recording = recordingChanges(clients, () => undefined);
    await recording.objects.patch(
      service,
      undefined,
      undefined,
      'etcd-stretch',
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(calls.map((c) => c.method)).toEqual(['patch']);
    expect((calls[0]!.args[0] as KubernetesObject).metadata?.annotations).toBeUndefined();
  });
});
