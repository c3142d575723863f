/**
 * Issuing the new members' certificates as the worker, with deploy/rbac-target.yaml's grant (Secrets
 * by name only) on the sandbox's real target API server: the Secret is created by server-side apply
 * with `patch` alone, holds a certificate per member that the CA verifies with the member's names
 * and load-balancer IP, a re-run keeps them, and the rollback deletes it. Any other Secret, and
 * listing Secrets, stay forbidden.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteMemberCertificates,
  ensureMemberCertificates,
} from '../../activities/kubernetes/member-certificates.js';
import type { KubeEnv } from '../../activities/kubernetes/clients.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { clusterClient, createNamespace, deleteNamespace, type ClusterClient } from '../helpers/kube.js';
import { TestPki, type KeyPair } from '../helpers/test-pki.js';
import { articleSpec, grantWorker, kubeEnv, randomSuffix, workerKubeConfig } from './kubernetes-fixtures.js';

let source: ClusterClient;
let target: ClusterClient;
let sourceNs: string;
let targetNs: string;
let worker: () => KubeEnv;
let spec: MigrationSpec;
let ca: KeyPair;
const cleanups: (() => Promise<void>)[] = [];

const b64 = (s: string) => Buffer.from(s).toString('base64');
const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e: { code?: number }) => e.code ?? 0,
  );

beforeAll(async () => {
  source = clusterClient('source');
  target = clusterClient('target');
  sourceNs = await createNamespace(source, 'certs');
  targetNs = await createNamespace(target, 'certs');
  const suffix = randomSuffix();
  const src = await grantWorker(source, 'deploy/rbac-source.yaml', sourceNs, suffix);
  const dst = await grantWorker(target, 'deploy/rbac-target.yaml', targetNs, suffix);
  cleanups.push(src.cleanup, dst.cleanup);
  worker = kubeEnv({ kubeconfig: workerKubeConfig({ source: src.token, target: dst.token }) });
  // The names deploy/rbac-target.yaml grants: CA Secret etcd-ca, StatefulSet etcd-main.
  spec = articleSpec({
    sourceNs,
    targetNs,
    targetStatefulSet: 'etcd-main',
    mutate: (s) => {
      s.tls = {
        peer: { issueFrom: { caSecret: 'etcd-ca', validity: '48h' } },
        client: { issueFrom: { caSecret: 'etcd-ca' } },
      };
    },
  });
  const pki = new TestPki();
  ca = await pki.ca('etcd-ca');
  pki.dispose();
  for (const [name, data] of [
    ['etcd-ca', { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) }],
    ['unrelated', { password: b64('not for the worker') }],
  ] as const) {
    await target.core.createNamespacedSecret({ namespace: targetNs, body: { metadata: { name }, data } });
  }
});

afterAll(async () => {
  for (const c of cleanups) await c();
  await deleteNamespace(source, sourceNs).catch(() => undefined);
  await deleteNamespace(target, targetNs).catch(() => undefined);
});

describe('issued member certificates under the least-privilege RBAC', () => {
  const members = ['etcd-main-0', 'etcd-main-1', 'etcd-main-2'];
  const addresses = {
    'etcd-main-0': '198.19.2.200',
    'etcd-main-1': '198.19.2.201',
    'etcd-main-2': '198.19.2.202',
  };

  it('issues one certificate per member into a new Secret, with its names and load-balancer IP', async () => {
    const r = await ensureMemberCertificates(worker(), { spec, members, addresses });
    expect(r.secrets.map((s) => [s.secret, s.issued, s.kept])).toEqual([
      ['etcd-main-peer-tls', members, []],
      ['etcd-main-client-tls', members, []],
    ]);
    // Results carry names and dates, never key material.
    expect(JSON.stringify(r)).not.toContain('PRIVATE KEY');
    const secret = await target.core.readNamespacedSecret({
      name: 'etcd-main-peer-tls',
      namespace: targetNs,
    });
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('etcd-stretch');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(
      ['ca.crt', ...members.flatMap((m) => [`${m}.crt`, `${m}.key`])].sort(),
    );
    const caCert = new X509Certificate(ca.certPem);
    for (const m of members) {
      const cert = new X509Certificate(Buffer.from(secret.data![`${m}.crt`]!, 'base64'));
      expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.checkHost(`${m}.etcd-main`)).toBe(`${m}.etcd-main`);
      expect(cert.checkHost(`${m}.etcd-main.${targetNs}.svc.cluster.local`)).toBeDefined();
      expect(cert.checkIP(addresses[m as keyof typeof addresses])).toBeDefined();
      expect(cert.checkHost('etcd-main-9.etcd-main')).toBeUndefined();
      const key = createPrivateKey(Buffer.from(secret.data![`${m}.key`]!, 'base64'));
      expect(cert.checkPrivateKey(key)).toBe(true);
      // validity 48h for peer
      expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThan(49 * 3600_000);
    }
  });

  it('keeps certificates that still serve on a re-run, and re-issues one whose address changed', async () => {
    const before = await target.core.readNamespacedSecret({
      name: 'etcd-main-peer-tls',
      namespace: targetNs,
    });
    const again = await ensureMemberCertificates(worker(), { spec, members, addresses });
    expect(again.secrets.every((s) => s.issued.length === 0 && s.kept.length === 3)).toBe(true);
    const after = await target.core.readNamespacedSecret({ name: 'etcd-main-peer-tls', namespace: targetNs });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    const moved = await ensureMemberCertificates(worker(), {
      spec,
      members,
      addresses: { ...addresses, 'etcd-main-2': '198.19.2.222' },
    });
    expect(moved.secrets[0]!.issued).toEqual(['etcd-main-2']);
    expect(moved.secrets[0]!.kept).toEqual(['etcd-main-0', 'etcd-main-1']);
  });

  it('may read no other Secret and list none', async () => {
    const t = worker().clients('target');
    expect(await statusOf(t.core.readNamespacedSecret({ name: 'unrelated', namespace: targetNs }))).toBe(403);
    expect(await statusOf(t.core.listNamespacedSecret({ namespace: targetNs }))).toBe(403);
  });

  it('deletes the issued Secrets on rollback, and nothing else', async () => {
    const r = await deleteMemberCertificates(worker(), { spec });
    expect(r.deleted.sort()).toEqual(['etcd-main-client-tls', 'etcd-main-peer-tls']);
    const left = (await target.core.listNamespacedSecret({ namespace: targetNs })).items.map(
      (s) => s.metadata!.name,
    );
    expect(left).toContain('etcd-ca');
    expect(left).toContain('unrelated');
    expect(left).not.toContain('etcd-main-peer-tls');
    expect((await deleteMemberCertificates(worker(), { spec })).deleted).toEqual([]);
  });
});
