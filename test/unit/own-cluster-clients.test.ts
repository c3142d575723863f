/**
 * A per-cluster worker's Kubernetes clients (kubeClientFactory with `cluster`): its own context
 * only, from a kubeconfig or the Pod's ServiceAccount renamed; any other context is refused with
 * a non-retryable WrongCluster, also through the migration activities. No API server is needed:
 * the refusal comes before any request.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import { ApplicationFailure } from '@temporalio/common';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { WrongCluster } from '../../activities/kubernetes/errors.js';
import { SERVICE_ACCOUNT_DIR } from '../../activities/kubernetes/own-cluster.js';
import { toApplicationFailure } from '../../activities/errors.js';
import { createMigrationActivities } from '../../activities/migration/index.js';
import { FailureType } from '../../core/failure-types.js';
import { makeSpec } from './fixtures/migration-spec.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'own-cluster-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

const REFUSAL =
  'this worker serves cluster "source" only (ETCD_STRETCH_CLUSTER); "target" is reached by the worker on task queue etcd-stretch-target';

/** The files a Pod's ServiceAccount mount holds, under `prefix`. */
function serviceAccountFiles(prefix: string, namespace = 'etcd'): void {
  const dir = path.join(prefix, SERVICE_ACCOUNT_DIR);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'ca.crt'), 'not a real CA\n');
  fs.writeFileSync(path.join(dir, 'token'), 'sa-token');
  fs.writeFileSync(path.join(dir, 'namespace'), namespace);
}

function twoContextKubeconfig(): string {
  const file = path.join(tmp, 'both');
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: ['source', 'target'].map((c) => ({ name: c, cluster: { server: `https://${c}.invalid` } })),
      users: ['source', 'target'].map((c) => ({ name: c, user: { token: `t-${c}` } })),
      contexts: ['source', 'target'].map((c) => ({ name: c, context: { cluster: c, user: c } })),
    }),
  );
  return file;
}

function refusalOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('no refusal');
}

describe('kubeClientFactory for one cluster', () => {
  it('from a kubeconfig: serves its context and keeps nothing of the other cluster', () => {
    const clients = kubeClientFactory(twoContextKubeconfig(), { cluster: 'source' });
    const own = clients('source');
    expect(own.kc.getCurrentCluster()?.server).toBe('https://source.invalid');
    expect(own.kc.getContexts().map((c) => c.name)).toEqual(['source']);
    expect(own.kc.getClusters().map((c) => c.name)).toEqual(['source']);
    expect(own.kc.getUsers().map((u) => u.name)).toEqual(['source']);
    const err = refusalOf(() => clients('target'));
    expect(err).toBeInstanceOf(WrongCluster);
    expect((err as Error).message).toContain(REFUSAL);
    expect((err as Error).message).toContain('check workers.* in the spec and that worker');
  });

  it("in a Pod: the ServiceAccount's config, its context renamed to the cluster", () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const prefix = path.join(tmp, 'pod');
    serviceAccountFiles(prefix);
    const clients = kubeClientFactory(undefined, { cluster: 'source', inClusterPathPrefix: prefix });
    const own = clients('source');
    expect(own.kc.getContexts()).toEqual([expect.objectContaining({ name: 'source', namespace: 'etcd' })]);
    expect(own.kc.getCurrentCluster()).toMatchObject({
      server: 'https://10.96.0.1:443',
      caFile: `${prefix}${SERVICE_ACCOUNT_DIR}/ca.crt`,
    });
    // The token is a file the kubelet rotates: referenced, not copied.
    expect(own.kc.getCurrentUser()).toMatchObject({
      authProvider: { name: 'tokenFile', config: { tokenFile: `${prefix}${SERVICE_ACCOUNT_DIR}/token` } },
    });
    expect(refusalOf(() => clients('target'))).toBeInstanceOf(WrongCluster);
    expect(refusalOf(() => clients('inClusterContext'))).toBeInstanceOf(WrongCluster);
  });

  it('outside a Pod without KUBECONFIG, or without the token mounted: says what to do', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    expect(() => kubeClientFactory(undefined, { cluster: 'source' })).toThrow(
      'ETCD_STRETCH_CLUSTER=source without KUBECONFIG uses the Pod\'s ServiceAccount, but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a Pod): set KUBECONFIG to a kubeconfig with a context "source"',
    );
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const empty = path.join(tmp, 'no-token');
    expect(() => kubeClientFactory(undefined, { cluster: 'source', inClusterPathPrefix: empty })).toThrow(
      `${empty}${SERVICE_ACCOUNT_DIR}/ca.crt does not exist: mount the ServiceAccount token (automountServiceAccountToken) or set KUBECONFIG`,
    );
  });

  it('without a cluster serves every context, as before', () => {
    const clients = kubeClientFactory(twoContextKubeconfig());
    expect(clients('target').kc.getCurrentCluster()?.server).toBe('https://target.invalid');
    expect(clients('source').kc.getCurrentCluster()?.server).toBe('https://source.invalid');
  });

  it('WrongCluster becomes a non-retryable ApplicationFailure of that type', () => {
    const clients = kubeClientFactory(twoContextKubeconfig(), { cluster: 'source' });
    const failure = toApplicationFailure(refusalOf(() => clients('target')));
    expect(failure.type).toBe(FailureType.WrongCluster);
    expect(failure.nonRetryable).toBe(true);
  });
});

describe('the migration activities of a per-cluster worker', () => {
  it("refuse a step on the other cluster's side with WrongCluster, not retried", async () => {
    const activities = createMigrationActivities({ kubeconfig: twoContextKubeconfig(), cluster: 'source' });
    const failure = await activities.ensureHeadlessService({ spec: makeSpec(), side: 'target' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'WrongCluster', nonRetryable: true });
    expect((failure as Error).message).toContain(REFUSAL);
  });

  it("refuse to hash the other cluster's members (hashKvOnSide), not retried", async () => {
    const activities = createMigrationActivities({ kubeconfig: twoContextKubeconfig(), cluster: 'source' });
    const failure = await activities
      .hashKvOnSide({ spec: makeSpec(), side: 'target', members: ['etcd-main-0'] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toMatchObject({ type: 'WrongCluster', nonRetryable: true });
    expect((failure as Error).message).toContain("each side's members are hashed by that side's worker");
  });
});
