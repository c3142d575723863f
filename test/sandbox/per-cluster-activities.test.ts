/**
 * The migration activities of per-cluster workers on the two real API servers: a source worker
 * whose kubeconfig holds only the source context and a target worker with only the target's
 * (`createMigrationActivities({ kubeconfig, cluster })`), against a single worker holding both.
 * Preflight in two parts decides what the single preflight decides; the target worker renders
 * the target from the source manifests without any access to the source cluster; it reaches the
 * source members through the addresses it is given; and it refuses source-only work.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { KubeConfig } from '@kubernetes/client-node';
import { flagValue } from '../../activities/kubernetes/etcd-flags.js';
import { renderTargetStatefulSet } from '../../activities/kubernetes/render-target.js';
import { createMigrationActivities } from '../../activities/migration/index.js';
import type { MigrationActivities, PreflightReport } from '../../core/activity-contract.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  loadManifests,
  readyPods,
  type ClusterClient,
} from '../helpers/kube.js';
import { articleSpec, randomSuffix, snapshot } from './kubernetes-fixtures.js';

/** A kubeconfig file with one context of the sandbox's: what a per-cluster worker holds. */
function writeOneContextKubeconfig(dir: string, context: 'source' | 'target'): string {
  const all = new KubeConfig();
  all.loadFromFile(kubeconfigPath());
  const ctx = all.getContextObject(context)!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: all.getClusters().filter((c) => c.name === ctx.cluster),
    users: all.getUsers().filter((u) => u.name === ctx.user),
    contexts: [ctx],
    currentContext: context,
  });
  const file = path.join(dir, `${context}.kubeconfig`);
  fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** What preflight decided, without the moment it observed. */
function decision(r: PreflightReport) {
  return {
    refusals: r.refusals,
    warnings: r.warnings,
    observed: r.observed,
    sourceReplicas: r.sourceReplicas,
    plan: r.plan,
    planError: r.planError,
    members: r.evidence?.members,
    health: r.evidence?.health,
    hashKvAgree: r.evidence?.hashKv?.agree,
  };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('per-cluster workers: each activity touches its own cluster only', () => {
  let source: ClusterClient;
  let target: ClusterClient;
  let sourceNs: string;
  let targetNs: string;
  let spec: MigrationSpec;
  let dir: string;
  let specWith: (mutate: Parameters<typeof articleSpec>[0]['mutate']) => MigrationSpec;
  let single: MigrationActivities;
  let sourceWorker: MigrationActivities;
  let targetWorker: MigrationActivities;

  beforeAll(async () => {
    source = clusterClient('source');
    target = clusterClient('target');
    sourceNs = await createNamespace(source, 'per-cluster');
    targetNs = await createNamespace(target, 'per-cluster');
    const targetStatefulSet = `pc-${randomSuffix()}`;
    specWith = (mutate) =>
      articleSpec({
        sourceNs,
        targetNs,
        targetStatefulSet,
        mutate: (s) => {
          s.workers = { mode: 'per-cluster' };
          mutate?.(s);
        },
      });
    spec = specWith(undefined);
    await apply(source, loadManifests('test/fixtures/article-etcd.yaml', sourceNs));
    await readyPods(source, sourceNs, 'app=etcd', 3);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-cluster-'));
    single = createMigrationActivities({ kubeconfig: kubeconfigPath() });
    sourceWorker = createMigrationActivities({
      kubeconfig: writeOneContextKubeconfig(dir, 'source'),
      cluster: 'source',
    });
    targetWorker = createMigrationActivities({
      kubeconfig: writeOneContextKubeconfig(dir, 'target'),
      cluster: 'target',
    });
  });
  afterAll(async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await deleteNamespace(source, sourceNs);
    await deleteNamespace(target, targetNs);
  });

  /** Both parts, each on its own worker; checks that neither changed anything. */
  async function preflightInParts(s: MigrationSpec) {
    const snap = async () => [await snapshot(source, sourceNs), await snapshot(target, targetNs)];
    const before = await snap();
    const sourceReport = await sourceWorker.preflight({ spec: s, part: 'source' });
    const report = await targetWorker.preflight({ spec: s, part: 'target', sourceReport });
    expect(await snap()).toEqual(before);
    return { sourceReport, report };
  }

  it('preflight source part then target part decides what the single preflight decides', async () => {
    const { sourceReport, report } = await preflightInParts(spec);
    // The source part: the source's checks and the source objects, no plan.
    expect(sourceReport.plan).toBeUndefined();
    const manifests = sourceReport.sourceManifests!;
    expect(manifests.statefulSet).toMatchObject({ kind: 'StatefulSet', metadata: { name: 'etcd' } });
    expect(manifests.statefulSet.status).toBeUndefined();
    expect(manifests.service).toMatchObject({ kind: 'Service', metadata: { name: 'etcd' } });
    expect(JSON.parse(JSON.stringify(manifests))).toEqual(manifests);

    const alone = await single.preflight({ spec });
    expect(alone.refusals).toEqual([]);
    expect(alone.warnings.join('\n')).toContain('imagePullSecret "registrysecret" does not exist');
    expect(alone.plan).toBeDefined();
    expect(decision(report)).toEqual(decision(alone));
    expect(report.sourceManifests).toEqual(manifests);
  });

  it('refusals of both clusters come out the same either way', async () => {
    const withPeerTls = specWith((s) => (s.tls = { peer: { secret: { name: 'etcd-main-peer-tls' } } }));
    const { report } = await preflightInParts(withPeerTls);
    const alone = await single.preflight({ spec: withPeerTls });
    expect(alone.refusals).toHaveLength(3);
    expect(alone.refusals.join('\n')).toContain('tls.peer.secret: Secret');
    expect(alone.plan).toBeUndefined();
    expect(decision(report)).toEqual(decision(alone));
  });

  it("a per-cluster worker checks the etcd user's Secret in its own cluster too", async () => {
    // In the source cluster only, and without its password key: no worker may observe etcd.
    await source.core.createNamespacedSecret({
      namespace: sourceNs,
      body: { metadata: { name: 'etcd-root' }, stringData: { username: 'root' } },
    });
    const withAuth = specWith((s) => (s.auth = { secret: { cluster: 'source', name: 'etcd-root' } }));
    const missingKey = `auth.secret.passwordKey: Secret ${sourceNs}/etcd-root in context source (source cluster) has no key "password"`;
    const alone = await single.preflight({ spec: withAuth });
    expect(alone.refusals).toEqual([missingKey]);
    const { report } = await preflightInParts(withAuth);
    expect(report.refusals).toEqual([
      missingKey,
      `auth.secret: Secret ${targetNs}/etcd-root in context target (target cluster) not found: create it first (per-cluster: the Secret must exist in both clusters, each worker reads its own)`,
    ]);
  });

  it('the target worker renders the target from the source manifests, with no access to the source', async () => {
    const { sourceManifests } = await sourceWorker.preflight({ spec, part: 'source' });
    expect(sourceManifests).toBeDefined();
    expect(await targetWorker.ensureHeadlessService({ spec, side: 'target', sourceManifests })).toEqual({
      created: true,
    });
    const svc = await target.core.readNamespacedService({ name: spec.target.service, namespace: targetNs });
    expect(svc.spec?.clusterIP).toBe('None');
    expect(svc.spec?.ports?.map((p) => p.port)).toEqual([2380, 2379]);
    // Without the manifests it would have to read the source cluster, which it cannot.
    const refused = await failureOf(targetWorker.ensureHeadlessService({ spec, side: 'target' }));
    expect(refused.type).toBe('WrongCluster');
    expect(refused.nonRetryable).toBe(true);

    const tgt = spec.target.statefulSet;
    const initialCluster = `etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,${tgt}-0=http://${tgt}-0.${tgt}:2380`;
    try {
      const r = await targetWorker.scaleTarget({
        spec,
        member: `${tgt}-0`,
        replicas: 1,
        initialCluster,
        hostAliases: [],
        sourceManifests,
      });
      expect(r).toEqual({ replicas: 1, created: true });
      // What it created is what the live source object renders.
      const live = await source.apps.readNamespacedStatefulSet({ name: 'etcd', namespace: sourceNs });
      const expected = renderTargetStatefulSet(live, spec, { replicas: 1, initialCluster }).statefulSet;
      const created = await target.apps.readNamespacedStatefulSet({ name: tgt, namespace: targetNs });
      const etcd = created.spec!.template.spec!.containers.find((c) => c.name === 'etcd')!;
      expect(etcd).toEqual(expected.spec!.template.spec!.containers.find((c) => c.name === 'etcd'));
      expect(flagValue(etcd, 'initial-cluster')).toBe(initialCluster);
    } finally {
      await targetWorker.shrinkTarget({ spec, replicas: 0, removedMembers: [`${tgt}-0`] });
    }
    await expect(
      target.core.readNamespacedService({ name: spec.target.service, namespace: targetNs }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('the target worker reaches the source members through the addresses it is given', async () => {
    const pods = await readyPods(source, sourceNs, 'app=etcd', 3);
    const addresses = Object.fromEntries(pods.map((p) => [p.metadata!.name!, p.status!.podIP!]));
    const evidence = await targetWorker.observe({ spec, memberAddresses: { source: addresses, target: {} } });
    expect(evidence.members.map((m) => m.name).sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    expect(evidence.health).toEqual({ 'etcd-0': true, 'etcd-1': true, 'etcd-2': true });
    expect(evidence.hashKv?.agree).toBe(true);
    // Without addresses of the other side it reaches none of the source members.
    const alone = await failureOf(targetWorker.observe({ spec }));
    expect(alone.message).toMatch(/no endpoint|at least one endpoint/);
  });

  it('asking the target worker for source-only work fails with the wrong-cluster error', async () => {
    const err = await failureOf(targetWorker.scaleSource({ spec, replicas: 3 }));
    expect(err.type).toBe('WrongCluster');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('this worker serves cluster "target" only');
    const parts = await targetWorker.preflight({ spec, part: 'source' });
    expect(parts.refusals).toEqual([
      expect.stringMatching(/^source\.context "source": this worker serves cluster "target" only/),
    ]);
  });
});
