/**
 * What the migration changes in Kubernetes says so on the object: an object it creates (or
 * applies) carries the workflow ID in an annotation, and every change leaves a Kubernetes Event
 * on the object (`kubectl describe`, `kubectl get events --field-selector source=etcd-stretch`)
 * naming the workflow and the plan step. Only inside an activity: outside one (tests, the CLI)
 * the clients write as before. An Event that cannot be written (no RBAC for events) costs a
 * warning, never the change.
 */
import os from 'node:os';
import {
  PatchStrategy,
  type AppsV1Api,
  type CoreV1Api,
  type CoreV1Event,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { currentChangeOrigin, recordAside, type ChangeOrigin } from '../change-origin.js';

/** The object a change is about (clients.ts's ObjectRef). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** On every object the migration creates or applies: the ID of the workflow that did. */
export const WORKFLOW_ID_ANNOTATION = 'etcd-stretch.io/workflow-id';
/** The Events' source and reporting component. */
export const EVENT_COMPONENT = 'etcd-stretch';

export type ChangeVerb = 'create' | 'apply' | 'patch' | 'replace' | 'delete' | 'scale';

export interface ObjectChange {
  verb: ChangeVerb;
  ref: ObjectRef;
  uid?: string;
}

const REASONS: Record<ChangeVerb, string> = {
  create: 'Created',
  apply: 'Applied',
  patch: 'Patched',
  replace: 'Replaced',
  delete: 'Deleted',
  scale: 'Scaled',
};

/** `patchNamespacedStatefulSetScale` on the apps API -> a scale of StatefulSet `name`; else undefined. */
export function changeOfMethod(
  method: string,
  apiVersion: string,
  params: unknown,
): Omit<ObjectChange, 'uid'> | undefined {
  const m = /^(create|patch|replace|delete)Namespaced([A-Z]\w*?)(Scale|Status)?$/.exec(method);
  if (!m || m[2] === 'Event') return undefined;
  const p = (params ?? {}) as { name?: string; namespace?: string; body?: KubernetesObject };
  const name = p.name ?? p.body?.metadata?.name;
  if (!name || !p.namespace) return undefined;
  const verb: ChangeVerb = m[3] === 'Scale' ? 'scale' : (m[1] as ChangeVerb);
  return { verb, ref: { apiVersion, kind: m[2]!, name, namespace: p.namespace } };
}

/** The core/v1 Event recording `change`, made by `origin`. */
export function changeEvent(
  change: ObjectChange,
  origin: ChangeOrigin,
  at: Date,
  instance: string,
): CoreV1Event {
  const { ref } = change;
  const step = origin.undoes
    ? `undo of step ${origin.undoes}`
    : origin.stepId
      ? `step ${origin.stepId}`
      : `activity ${origin.activityType}`;
  return {
    metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
    involvedObject: {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      name: ref.name,
      namespace: ref.namespace,
      ...(change.uid ? { uid: change.uid } : {}),
    },
    reason: REASONS[change.verb],
    message: `etcd-stretch ${change.verb === 'scale' ? 'scaled' : REASONS[change.verb].toLowerCase()} ${ref.kind} ${ref.name}: workflow ${origin.workflowId}, ${step} (${origin.activityType}, attempt ${origin.attempt})`,
    type: 'Normal',
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: instance,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/** `obj` with the workflow ID annotation. */
export function withWorkflowId<T extends KubernetesObject>(obj: T, workflowId: string): T {
  const metadata = obj.metadata ?? {};
  return {
    ...obj,
    metadata: { ...metadata, annotations: { ...metadata.annotations, [WORKFLOW_ID_ANNOTATION]: workflowId } },
  };
}

type Warn = (message: string) => void;

/** Namespaces where writing an Event failed: warned about once per process. */
const eventsRefused = new Set<string>();

async function recordEvent(events: CoreV1Api, change: ObjectChange, origin: ChangeOrigin, warn: Warn) {
  if (!change.ref.namespace) return; // cluster-scoped: no namespace to put the Event in
  try {
    await events.createNamespacedEvent({
      namespace: change.ref.namespace,
      body: changeEvent(change, origin, new Date(), os.hostname()),
    });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (eventsRefused.has(change.ref.namespace)) return;
    eventsRefused.add(change.ref.namespace);
    warn(
      `could not record an Event for the ${change.verb} of ${change.ref.kind} ${change.ref.namespace}/${change.ref.name}` +
        `${code ? ` (HTTP ${code})` : ''}: grant the worker "create events" there (deploy/rbac-*.yaml); no more warnings for this namespace`,
    );
  }
}

function uidOf(result: unknown): string | undefined {
  return (result as KubernetesObject | undefined)?.metadata?.uid;
}

/** A typed API (core, apps) whose namespaced writes annotate what they create and record Events. */
function recordingApi<A extends object>(api: A, apiVersion: string, events: CoreV1Api, warn: Warn): A {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (typeof prop !== 'string') return method.bind(target);
      return (...args: unknown[]) => {
        const origin = currentChangeOrigin();
        const change = origin && changeOfMethod(prop, apiVersion, args[0]);
        if (!origin || !change) return method.apply(target, args);
        const params = args[0] as { body?: KubernetesObject };
        if (change.verb === 'create' && params.body)
          args[0] = { ...params, body: withWorkflowId(params.body, origin.workflowId) };
        return method.apply(target, args).then(async (result) => {
          await recordAside(() => recordEvent(events, { ...change, uid: uidOf(result) }, origin, warn));
          return result;
        });
      };
    },
  });
}

/** The generic API: server-side applies carry the workflow ID; applies and JSON patches record Events. */
function recordingObjects<O extends object>(objects: O, events: CoreV1Api, warn: Warn): O {
  return new Proxy(objects, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (prop !== 'patch' && prop !== 'jsonPatch' && prop !== 'create' && prop !== 'delete') return method;
      return async (...args: unknown[]) => {
        const origin = currentChangeOrigin();
        if (!origin) return method(...args);
        const first = args[0] as KubernetesObject & Partial<ObjectRef>;
        const ref: ObjectRef =
          prop === 'jsonPatch'
            ? (first as ObjectRef)
            : {
                apiVersion: first.apiVersion ?? 'v1',
                kind: first.kind ?? 'Object',
                name: first.metadata?.name ?? '?',
                namespace: first.metadata?.namespace,
              };
        const verb: ChangeVerb =
          prop === 'patch'
            ? args[5] === PatchStrategy.ServerSideApply
              ? 'apply'
              : 'patch'
            : prop === 'jsonPatch'
              ? 'patch'
              : prop;
        if (verb === 'apply' || verb === 'create') args[0] = withWorkflowId(first, origin.workflowId);
        const result = await method(...args);
        await recordAside(() => recordEvent(events, { verb, ref, uid: uidOf(result) }, origin, warn));
        return result;
      };
    },
  });
}

/** `clients` whose writes, inside an activity, annotate what they create and record Events. */
export function recordingChanges<C extends { core: CoreV1Api; apps: AppsV1Api; objects: object }>(
  clients: C,
  warn: Warn,
): C {
  const events = clients.core;
  return {
    ...clients,
    core: recordingApi(clients.core, 'v1', events, warn),
    apps: recordingApi(clients.apps, 'apps/v1', events, warn),
    objects: recordingObjects(clients.objects, events, warn),
  };
}
