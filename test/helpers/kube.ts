import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import YAML from 'yaml';
import { kubeconfigPath, toolPath, type ClusterName } from '../../sandbox/config.js';
import { podNetnsName } from '../../sandbox/node-agent/pod-runtime.js';
import { waitFor } from '../../sandbox/processes.js';
import { reuseConnections } from '../../activities/kubernetes/reused-connections.js';

const execFileAsync = promisify(execFile);

export { waitFor };

export interface ClusterClient {
  name: ClusterName;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  objects: KubernetesObjectApi;
}

export function clusterClient(name: ClusterName): ClusterClient {
  const kc = reuseConnections(new KubeConfig());
  kc.loadFromFile(kubeconfigPath());
  kc.setCurrentContext(name);
  return {
    name,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

export function loadManifests(file: string, namespace: string): KubernetesObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(path.resolve(file), 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o)
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

export async function apply(c: ClusterClient, objects: KubernetesObject[]): Promise<void> {
  for (const o of objects) {
    await c.objects.patch(o, undefined, undefined, 'etcd-stretch-tests', true, PatchStrategy.ServerSideApply);
  }
}

export async function createNamespace(c: ClusterClient, prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 7)}`;
  await c.core.createNamespace({ body: { metadata: { name } } });
  await waitFor(
    `service account default in ${name}`,
    () => c.core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true),
    { timeoutMs: 30_000 },
  );
  return name;
}

/** Clients of both clusters and a fresh namespace of the same name in each (a migration's source and target). */
export async function createNamespaceInBoth(
  prefix: string,
): Promise<{ source: ClusterClient; target: ClusterClient; ns: string }> {
  const source = clusterClient('source');
  const target = clusterClient('target');
  const ns = await createNamespace(source, prefix);
  await target.core.createNamespace({ body: { metadata: { name: ns } } });
  return { source, target, ns };
}

export async function deleteNamespace(c: ClusterClient, name: string): Promise<void> {
  await c.core.deleteNamespace({ name }).catch(() => undefined);
}

export function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function readyPods(
  c: ClusterClient,
  namespace: string,
  selector: string,
  count: number,
  timeoutMs = 120_000,
) {
  return waitFor(
    `${count} ready pods (${selector}) in ${c.name}/${namespace}`,
    async () => {
      const pods = (await c.core.listNamespacedPod({ namespace, labelSelector: selector })).items.filter(
        (p) => !p.metadata?.deletionTimestamp,
      );
      return pods.length === count && pods.every(isReady) ? pods.sort(byName) : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export function byName(a: KubernetesObject, b: KubernetesObject): number {
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

export function podNetns(c: ClusterClient, pod: V1Pod): string {
  return podNetnsName(c.name, pod.metadata!.uid!);
}

/** Runs a command inside a pod's network namespace (with its hosts file), as a test client there would. */
export async function inPodNetns(
  netns: string,
  cmd: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('ip', ['netns', 'exec', netns, ...cmd], {
      timeout: 20_000,
    });
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function etcdctl(version = '3.4'): string {
  return toolPath(`etcdctl-${version}`);
}
