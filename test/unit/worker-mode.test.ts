/**
 * The worker's configuration from the environment (worker/worker-mode.ts): which mode, which
 * task queues, which kubeconfig; and the start-up refusal of a per-cluster worker whose
 * KUBECONFIG lacks its cluster's context (createMigrationActivities loads it at once).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { workerKubeconfig, workerModeFromEnvironment } from '../../worker/worker-mode.js';
import { temporalSettings } from '../../worker/temporal-connection.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-mode-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A kubeconfig file with these contexts (each on its own cluster and user). */
function kubeconfigWith(...contexts: string[]): string {
  const file = path.join(tmp, `kubeconfig-${contexts.join('-') || 'none'}`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: contexts.map((c) => ({
        name: `${c}-cluster`,
        cluster: { server: `https://${c}.invalid:6443` },
      })),
      users: contexts.map((c) => ({ name: `${c}-user`, user: { token: `token-${c}` } })),
      contexts: contexts.map((c) => ({ name: c, context: { cluster: `${c}-cluster`, user: `${c}-user` } })),
      ...(contexts[0] ? { 'current-context': contexts[0] } : {}),
    }),
  );
  return file;
}

/** The mode as worker/main.ts computes it from `env`. */
function modeOf(env: NodeJS.ProcessEnv) {
  return workerModeFromEnvironment(temporalSettings(env).taskQueue, env);
}

describe('workerModeFromEnvironment', () => {
  it('is single, on the workflow task queue, without ETCD_STRETCH_CLUSTER', () => {
    expect(modeOf({})).toEqual({ mode: 'single', taskQueue: 'etcd-stretch' });
    expect(modeOf({ ETCD_STRETCH_TASK_QUEUE: 'q' })).toEqual({ mode: 'single', taskQueue: 'q' });
    expect(modeOf({ ETCD_STRETCH_CLUSTER: '' })).toEqual({ mode: 'single', taskQueue: 'etcd-stretch' });
  });

  it("is per-cluster with ETCD_STRETCH_CLUSTER: workflows on the workflow queue, activities on the cluster's", () => {
    expect(modeOf({ ETCD_STRETCH_CLUSTER: 'gke-prod' })).toEqual({
      mode: 'per-cluster',
      cluster: 'gke-prod',
      taskQueue: 'etcd-stretch',
      activityTaskQueue: 'etcd-stretch-gke-prod',
    });
    expect(
      modeOf({
        ETCD_STRETCH_CLUSTER: 'source',
        ETCD_STRETCH_TASK_QUEUE: 'migrations',
        ETCD_STRETCH_ACTIVITY_TASK_QUEUE: 'source-activities',
      }),
    ).toEqual({
      mode: 'per-cluster',
      cluster: 'source',
      taskQueue: 'migrations',
      activityTaskQueue: 'source-activities',
    });
  });

  it('refuses an activity queue without a cluster, one that is the workflow queue, and a padded name', () => {
    expect(() => modeOf({ ETCD_STRETCH_ACTIVITY_TASK_QUEUE: 'x' })).toThrow(
      'ETCD_STRETCH_ACTIVITY_TASK_QUEUE is for a per-cluster worker: set ETCD_STRETCH_CLUSTER too, or unset it',
    );
    expect(() =>
      modeOf({ ETCD_STRETCH_CLUSTER: 'source', ETCD_STRETCH_ACTIVITY_TASK_QUEUE: 'etcd-stretch' }),
    ).toThrow(
      'the activity task queue of cluster "source" is the workflow task queue etcd-stretch: a per-cluster worker polls a queue of its own (default etcd-stretch-source)',
    );
    expect(() => modeOf({ ETCD_STRETCH_CLUSTER: 'source ' })).toThrow('has surrounding spaces');
  });
});

describe('workerKubeconfig', () => {
  it("single: KUBECONFIG's first file, which must exist", () => {
    const file = kubeconfigWith('source', 'target');
    const env = { KUBECONFIG: [file, '/elsewhere'].join(path.delimiter) };
    expect(workerKubeconfig(modeOf(env), env)).toBe(file);
    const missing = { KUBECONFIG: path.join(tmp, 'nope') };
    expect(() => workerKubeconfig(modeOf(missing), missing)).toThrow(
      `kubeconfig ${missing.KUBECONFIG} not found`,
    );
  });

  it('per-cluster: KUBECONFIG if set, otherwise none (the Pod ServiceAccount), never ~/.kube/config', () => {
    const file = kubeconfigWith('source');
    const withFile = { ETCD_STRETCH_CLUSTER: 'source', KUBECONFIG: file };
    expect(workerKubeconfig(modeOf(withFile), withFile)).toBe(file);
    const inPod = { ETCD_STRETCH_CLUSTER: 'source', HOME: tmp };
    expect(workerKubeconfig(modeOf(inPod), inPod)).toBeUndefined();
  });
});

describe('a per-cluster worker starting', () => {
  it('refuses a KUBECONFIG that lacks the context ETCD_STRETCH_CLUSTER names', () => {
    const kubeconfig = kubeconfigWith('source', 'target');
    expect(() => createMigrationActivities({ kubeconfig, cluster: 'gke-prod' })).toThrow(
      `KUBECONFIG ${kubeconfig} has no context "gke-prod" (it has: source, target): ETCD_STRETCH_CLUSTER names this worker's cluster as the specs' source.context or target.context do`,
    );
  });

  it('starts with a KUBECONFIG that has it (other contexts in the file are dropped, not refused)', () => {
    const kubeconfig = kubeconfigWith('source', 'target');
    expect(() => createMigrationActivities({ kubeconfig, cluster: 'target' })).not.toThrow();
  });
});
