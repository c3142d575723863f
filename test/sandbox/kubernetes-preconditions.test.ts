/**
 * Discovering the article's etcd and checking a migration's preconditions against the two
 * real API servers: what is found, each refusal with its message, and that nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { discoverSource } from '../../activities/kubernetes/discover-source.js';
import { createKubernetesSecretResolver } from '../../activities/kubernetes/secrets.js';
import { validateMigrationPreconditions } from '../../activities/kubernetes/validate-target.js';
import { SecretUnavailable } from '../../activities/secret-ref.js';
import { NotFound } from '../../activities/kubernetes/errors.js';
import { kubeconfigPath } from '../../sandbox/config.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  loadManifests,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';
import { articleSpec, corefileOf, kubeEnv, randomSuffix, snapshot } from './kubernetes-fixtures.js';

describe('Kubernetes activities: discover the source and check preconditions', () => {
  let source: ClusterClient;
  let target: ClusterClient;
  let sourceNs: string;
  let targetNs: string;
  let spec: MigrationSpec;
  const env = kubeEnv({ kubeconfig: kubeconfigPath() });

  beforeAll(async () => {
    source = clusterClient('source');
    target = clusterClient('target');
    sourceNs = await createNamespace(source, 'k8s-pre');
    targetNs = await createNamespace(target, 'k8s-pre');
    spec = articleSpec({ sourceNs, targetNs, targetStatefulSet: `pre-${randomSuffix()}` });
    await apply(source, loadManifests('test/fixtures/article-etcd.yaml', sourceNs));
    await readyPods(source, sourceNs, 'app=etcd', 3);
  });
  afterAll(async () => {
    await deleteNamespace(source, sourceNs);
    await deleteNamespace(target, targetNs);
  });

  /** Runs the validation and checks that it changed nothing in either cluster. */
  async function validateUnchanged(s: MigrationSpec, resuming = false) {
    const snap = async () => [await snapshot(source, sourceNs), await snapshot(target, targetNs)];
    const before = await snap();
    const report = await validateMigrationPreconditions(env(), { spec: s, resuming });
    expect(await snap()).toEqual(before);
    return report;
  }

  it("discovers the article's StatefulSet, headless Service, pods and members", async () => {
    const d = await discoverSource(env(), { spec });
    expect(d.statefulSet).toMatchObject({
      name: 'etcd',
      namespace: sourceNs,
      replicas: 3,
      readyReplicas: 3,
      serviceName: 'etcd',
      podManagementPolicy: 'Parallel',
      updateStrategy: 'RollingUpdate',
      selector: { app: 'etcd' },
      volumeClaimTemplates: [{ name: 'data', storageClassName: null, size: '2Gi' }],
      pvcRetentionWhenScaled: 'Retain',
    });
    expect(d.headlessService).toEqual({
      name: 'etcd',
      headless: true,
      publishNotReadyAddresses: true,
      ports: [
        { name: 'etcd-server', port: 2380 },
        { name: 'etcd-client', port: 2379 },
      ],
    });
    expect(d.image).toBe('quay.io/coreos/etcd:v3.4.18');
    expect(d.etcdContainer).toBe('etcd');
    expect(d.containerPorts.map((p) => p.containerPort)).toEqual([2380, 2379]);
    expect(d.etcdConfig.initialClusterWrittenIn).toBe('script');
    expect(d.etcdConfig.initialCluster).toBe(
      'etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380',
    );
    expect(d.pods.map((p) => [p.name, p.ordinal, p.ready])).toEqual([
      ['etcd-0', 0, true],
      ['etcd-1', 1, true],
      ['etcd-2', 2, true],
    ]);
    for (const p of d.pods) {
      expect(p.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(p.ip).toMatch(/^198\.18\.1\./);
      expect(p.node).toMatch(/^node-/);
      expect(p.restartCount).toBe(0);
    }
    expect(new Set(d.pods.map((p) => p.node)).size).toBe(3);
    expect(d.members).toEqual(
      [0, 1, 2].map((i) => ({
        pod: `etcd-${i}`,
        name: `etcd-${i}`,
        peerURLs: [`http://etcd-${i}.etcd:2380`],
        clientURLs: [`http://etcd-${i}.etcd:2379`],
      })),
    );
    // JSON-serialisable and small (it goes into workflow history)
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(JSON.stringify(d).length).toBeLessThan(4000);
  });

  it('a missing source StatefulSet is a typed, non-retryable NotFound', async () => {
    const err = await discoverSource(env(), {
      spec: { ...spec, source: { ...spec.source, statefulSet: 'nope' } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFound);
    expect((err as NotFound).retryable).toBe(false);
    expect((err as NotFound).message).toContain(`get statefulsets.apps "nope" in namespace "${sourceNs}"`);
  });

  it('accepts the article migration, with a warning for the image pull secret, changing nothing', async () => {
    const corefileBefore = await corefileOf(source);
    const report = await validateUnchanged(spec);
    expect(report.refusals).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.sourceReplicas).toBe(3);
    expect(report.warnings.join('\n')).toContain('imagePullSecret "registrysecret" does not exist');
    expect(await corefileOf(source)).toBe(corefileBefore);
  });

  it('refuses the same StatefulSet name on both sides', async () => {
    const same = { ...spec, target: { ...spec.target, statefulSet: 'etcd' } };
    const report = await validateUnchanged(same);
    expect(report.ok).toBe(false);
    expect(report.refusals).toContainEqual({
      code: 'SameStatefulSetName',
      message:
        'target.statefulSet "etcd" must differ from source.statefulSet: pod hostnames are the etcd member names and must not collide',
    });
  });

  it('refuses a target namespace that does not exist', async () => {
    const missing = { ...spec, target: { ...spec.target, namespace: `absent-${randomSuffix()}` } };
    const report = await validateUnchanged(missing);
    expect(report.refusals.map((r) => r.code)).toEqual(['TargetNamespaceMissing']);
    expect(report.refusals[0]!.message).toBe(
      `target namespace "${missing.target.namespace}" does not exist in context target: create it first`,
    );
  });

  it('refuses an existing target StatefulSet unless the run resumes its own', async () => {
    const foreign = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: spec.target.statefulSet, namespace: targetNs },
      spec: {
        replicas: 0,
        serviceName: spec.target.service,
        selector: { matchLabels: { app: 'x' } },
        template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x' }] } },
      },
    };
    await apply(target, [foreign]);
    for (const resuming of [false, true]) {
      const report = await validateUnchanged(spec, resuming);
      expect(report.refusals).toEqual([
        {
          code: 'TargetStatefulSetExists',
          message: `StatefulSet ${targetNs}/${spec.target.statefulSet} already exists in context target: the migration creates it`,
        },
      ]);
    }
    // The same StatefulSet, marked as this migration's (as scaleTarget creates it): resumable only.
    await target.apps.patchNamespacedStatefulSet(
      {
        name: spec.target.statefulSet,
        namespace: targetNs,
        body: {
          metadata: {
            labels: { 'app.kubernetes.io/managed-by': 'etcd-stretch' },
            annotations: { 'etcd-stretch.io/source': `source/${sourceNs}/etcd` },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const fresh = await validateUnchanged(spec, false);
    expect(fresh.refusals.map((r) => r.code)).toEqual(['TargetStatefulSetExists']);
    expect(fresh.refusals[0]!.message).toContain('left by an earlier run of this migration');
    const resumed = await validateUnchanged(spec, true);
    expect(resumed.refusals).toEqual([]);
    expect(resumed.resumable).toEqual([`StatefulSet ${spec.target.statefulSet}`]);
    await target.apps.deleteNamespacedStatefulSet({ name: spec.target.statefulSet, namespace: targetNs });
  });

  it("refuses TLS settings the source's pod template does not match", async () => {
    const tls = articleSpec({
      sourceNs,
      targetNs,
      targetStatefulSet: spec.target.statefulSet,
      mutate: (s) => {
        s.tls = { peer: { secret: { name: 'etcd-main-peer-tls' } } };
      },
    });
    const report = await validateUnchanged(tls);
    expect(report.refusals).toEqual([
      {
        code: 'TlsSchemeMismatch',
        message:
          "tls.peer is set, so the new members join with https URLs, but the source pod template advertises --initial-advertise-peer-urls with http: etcd-stretch renders the source's TLS setup as it is (set tls.peer to match the source)",
      },
      // The certificate Secret the spec names is mounted into the new members: it must exist.
      {
        code: 'TargetReferenceMissing',
        message: expect.stringContaining(
          'Secret "etcd-main-peer-tls", which does not exist in target/',
        ) as string,
      },
    ]);
  });

  it('refuses while a source Pod is not Ready', async () => {
    // A fourth replica cannot start (it is not in the cluster): its pod exists but never gets Ready.
    await source.apps.patchNamespacedStatefulSetScale(
      { name: 'etcd', namespace: sourceNs, body: { spec: { replicas: 4 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    try {
      await waitFor(
        'pod etcd-3 to be scheduled and started (the agent labels it on its node)',
        async () =>
          (await source.core.listNamespacedPod({ namespace: sourceNs })).items.some(
            (p) =>
              p.metadata?.name === 'etcd-3' &&
              p.metadata.labels?.['topology.kubernetes.io/zone'] &&
              p.status?.containerStatuses?.length,
          ),
        { timeoutMs: 30_000 },
      );
      const report = await validateUnchanged(spec);
      expect(report.refusals).toEqual([
        {
          code: 'SourcePodNotReady',
          message: `source Pods must all be Ready before the migration: etcd-3 is not Ready (StatefulSet ${sourceNs}/etcd, replicas 4)`,
        },
      ]);
    } finally {
      await source.apps.patchNamespacedStatefulSetScale(
        { name: 'etcd', namespace: sourceNs, body: { spec: { replicas: 3 } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    await waitFor(
      'pod etcd-3 to be gone',
      async () =>
        !(await source.core.listNamespacedPod({ namespace: sourceNs })).items.some(
          (p) => p.metadata?.name === 'etcd-3',
        ),
      { timeoutMs: 60_000 },
    );
    await readyPods(source, sourceNs, 'app=etcd', 3);
    expect((await validateUnchanged(spec)).refusals).toEqual([]);
  });

  it('reads TLS/auth material from a Kubernetes Secret for the etcd activities, by reference', async () => {
    await target.core.createNamespacedSecret({
      namespace: targetNs,
      body: { metadata: { name: 'etcd-auth' }, stringData: { username: 'root', password: 's3cret\n' } },
    });
    const clients = kubeClientFactory(kubeconfigPath());
    const reader = createKubernetesSecretResolver({ clients, defaultContext: 'target' });
    const ref = (key: string, name = 'etcd-auth') => ({ secret: { namespace: targetNs, name, key } });
    expect((await reader.read(ref('password'))).toString()).toBe('s3cret\n');
    expect(
      (
        await reader.read({
          secret: { context: 'target', namespace: targetNs, name: 'etcd-auth', key: 'username' },
        })
      ).toString(),
    ).toBe('root');
    const noKey = await reader.read(ref('token')).catch((e: unknown) => e);
    expect(noKey).toBeInstanceOf(SecretUnavailable);
    expect((noKey as Error).message).toContain('the Secret has no key "token"');
    const noSecret = await reader.read(ref('x', 'absent')).catch((e: unknown) => e);
    expect(noSecret).toBeInstanceOf(SecretUnavailable);
    expect((noSecret as Error).message).toContain(`Secret target/${targetNs}/absent[x]`);
    const noContext = await createKubernetesSecretResolver({ clients })
      .read(ref('password'))
      .catch((e: unknown) => e);
    expect(noContext).toBeInstanceOf(SecretUnavailable);
  });
});
