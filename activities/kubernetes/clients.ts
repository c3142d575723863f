/**
 * One client set per kubeconfig context. A `KubeConfig` authenticates each request with
 * its *current* context's user at request time, so every context gets its own
 * `KubeConfig` instance (switching the context of a shared one would silently move
 * every client made from it).
 */
import {
  AppsV1Api,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { clusterTaskQueue } from '../../core/routing/task-queues.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';
import { noopRunContext, type RunContext } from '../run-context.js';
import { recordingChanges } from './change-events.js';
import { WrongCluster } from './errors.js';
import type { PatchOp } from './json-patch.js';
import { loadKubeconfigFiles } from './kubeconfig-files.js';
import { ownClusterKubeConfig } from './own-cluster.js';
import { reuseConnections } from './reused-connections.js';

/** Field manager of every write (server-side apply and patches). */
export const FIELD_MANAGER = 'etcd-stretch';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * `KubernetesObjectApi` plus the two generic calls it lacks: a raw read (no typed
 * deserialisation of the body) and a JSON patch of any object by apiVersion/kind.
 */
export class GenericObjectApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): GenericObjectApi {
    const client = kc.makeApiClient(GenericObjectApi);
    client.setDefaultNamespace(kc);
    return client;
  }

  private header(ref: ObjectRef): KubernetesObject {
    return {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    };
  }

  /** GET the object as plain JSON data. */
  async readRaw(ref: ObjectRef): Promise<Record<string, unknown>> {
    const path = await this.specUriPath(this.header(ref), 'read');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    return (await this.requestPromise(ctx, 'any')) as unknown as Record<string, unknown>;
  }

  /** PATCH the object with a JSON patch (application/json-patch+json). */
  async jsonPatch(ref: ObjectRef, ops: PatchOp[], fieldManager = FIELD_MANAGER): Promise<unknown> {
    const path = await this.specUriPath(this.header(ref), 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.JsonPatch);
    ctx.setQueryParam('fieldManager', fieldManager);
    ctx.setBody(JSON.stringify(ops));
    return this.requestPromise(ctx, 'any');
  }
}

export interface KubeClients {
  context: string;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  objects: GenericObjectApi;
}

export type ClientsForContext = (context: string) => KubeClients;

/** A KubeConfig limited to one context of `base`. */
export function kubeConfigForContext(base: KubeConfig, context: string): KubeConfig {
  if (!base.getContextObject(context)) {
    const known = base.getContexts().map((c) => c.name);
    throw new Error(`kubeconfig has no context "${context}" (it has: ${known.join(', ') || 'none'})`);
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.getClusters(),
    users: base.getUsers(),
    contexts: base.getContexts(),
    currentContext: context,
  });
  return kc;
}

export interface KubeClientFactoryOptions {
  /**
   * The one context this factory serves (a per-cluster worker's ETCD_STRETCH_CLUSTER): its
   * KubeConfig keeps that context only (`source`, or without it the Pod's ServiceAccount) and
   * is loaded at once, so a wrong one fails on start; asking for another context throws
   * `WrongCluster`. Absent: every context of `source`.
   */
  cluster?: string;
  /** With `cluster` and no `source`: prefix of the ServiceAccount files (tests outside a Pod). */
  inClusterPathPrefix?: string;
}

/**
 * Client sets per context from a kubeconfig: a `KubeConfig`, a KUBECONFIG-style list of files
 * (one path, or several merged as kubectl does), or (default)
 * the usual lookup (`KUBECONFIG`, `~/.kube/config`, in-cluster). Cached per context.
 */
export function kubeClientFactory(
  source?: KubeConfig | string,
  options: KubeClientFactoryOptions = {},
): ClientsForContext {
  const { cluster } = options;
  let base: KubeConfig | undefined =
    cluster === undefined
      ? undefined
      : ownClusterKubeConfig(cluster, {
          kubeconfig: source,
          inClusterPathPrefix: options.inClusterPathPrefix,
        });
  const cache = new Map<string, KubeClients>();
  const load = (): KubeConfig => {
    if (base) return base;
    if (source instanceof KubeConfig) base = source;
    else {
      if (typeof source === 'string') base = loadKubeconfigFiles(source);
      else {
        base = new KubeConfig();
        base.loadFromDefault();
      }
    }
    return base;
  };
  return (context: string) => {
    const hit = cache.get(context);
    if (hit) return hit;
    if (cluster !== undefined && context !== cluster) throw wrongCluster(cluster, context);
    const kc = reuseConnections(kubeConfigForContext(load(), context));
    // Inside an activity, writes annotate what they create and leave Events (change-events.ts).
    const clients = recordingChanges(
      {
        context,
        kc,
        core: kc.makeApiClient(CoreV1Api),
        apps: kc.makeApiClient(AppsV1Api),
        objects: GenericObjectApi.forConfig(kc),
      },
      (m) => process.stderr.write(`etcd-stretch: WARNING: ${m}\n`),
    );
    cache.set(context, clients);
    return clients;
  };
}

function wrongCluster(served: string, asked: string): WrongCluster {
  return new WrongCluster(
    `this worker serves cluster "${served}" only (ETCD_STRETCH_CLUSTER); "${asked}" is reached by the worker on task queue ${clusterTaskQueue(asked)} (or the spec's workers.<side>.taskQueue): check workers.* in the spec and that worker`,
    { details: { served, asked } },
  );
}

/** What every Kubernetes function takes first: how to reach a cluster, and how to heartbeat. */
export interface KubeEnv {
  clients: ClientsForContext;
  rc?: RunContext;
  /** Warnings worth an operator's attention (default: stderr). */
  warn?: (message: string) => void;
}

export function runContextOf(env: KubeEnv): RunContext {
  return env.rc ?? noopRunContext;
}

export function warnOf(env: KubeEnv): (message: string) => void {
  return env.warn ?? ((m) => process.stderr.write(`etcd-stretch: WARNING: ${m}\n`));
}

/** One side of the migration as Kubernetes sees it: its clients, context and namespace. */
export interface KubeSide {
  side: Side;
  context: string;
  namespace: string;
  clients: KubeClients;
}

export function sideOf(env: KubeEnv, spec: MigrationSpec, side: Side): KubeSide {
  const { context, namespace } = spec[side];
  return { side, context, namespace, clients: env.clients(context) };
}
