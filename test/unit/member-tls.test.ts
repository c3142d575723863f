/**
 * TLS for the new members, without a cluster: certificates issued from a CA (RSA and ECDSA),
 * the target pod template rendered from the secured fixture, and the plan's issue step.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { V1Container, V1StatefulSet } from '@kubernetes/client-node';
import {
  CertificateAuthorityError,
  certificateServes,
  issueCertificate,
} from '../../activities/kubernetes/certificate-issuer.js';
import { memberCertificateNames } from '../../activities/kubernetes/member-certificates.js';
import { renderTargetStatefulSet } from '../../activities/kubernetes/render-target.js';
import { MEMBER_ENV, skipSanFlag } from '../../activities/kubernetes/render-tls.js';
import { flagValue } from '../../activities/kubernetes/etcd-flags.js';
import { planMigration } from '../../core/planner/plan.js';
import { makeSpec, observedMembers } from './fixtures/migration-spec.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'member-tls-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function makeCa(name: string, keyArgs: string[]): { certPem: string; keyPem: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync('openssl', [...keyArgs, '-out', key], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-key', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`], {
    stdio: 'ignore',
  });
  return { certPem: fs.readFileSync(cert, 'utf8'), keyPem: fs.readFileSync(key, 'utf8') };
}

const rsaCa = makeCa('rsa-ca', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
const ecCa = makeCa('ec-ca', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);

describe('certificate issuer', () => {
  it.each([
    ['RSA', rsaCa],
    ['ECDSA', ecCa],
  ])('issues a certificate from a %s CA that openssl verifies, with the SANs asked for', async (_, ca) => {
    const names = ['etcd-main-0.etcd-main', 'localhost', '127.0.0.1', '198.19.2.7'];
    const issued = await issueCertificate(ca, { commonName: 'etcd-main-0', names, validityMs: 3600_000 });
    const certFile = path.join(dir, 'leaf.crt');
    const caFile = path.join(dir, 'leaf-ca.crt');
    fs.writeFileSync(certFile, issued.certPem);
    fs.writeFileSync(caFile, ca.certPem);
    const verified = execFileSync(
      'openssl',
      ['verify', '-purpose', 'sslserver', '-CAfile', caFile, certFile],
      {
        encoding: 'utf8',
      },
    );
    expect(verified).toContain('OK');
    execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', caFile, certFile]);
    // Go (etcd) finds the issuer by the exact bytes of its name, string types included.
    const name = (file: string, which: string) =>
      execFileSync('openssl', ['x509', '-in', file, '-noout', which, '-nameopt', 'show_type'], {
        encoding: 'utf8',
      })
        .replace(/^\w+=/, '')
        .trim();
    expect(name(certFile, '-issuer')).toBe(name(caFile, '-subject'));
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subjectAltName).toBe(
      'DNS:etcd-main-0.etcd-main, DNS:localhost, IP Address:127.0.0.1, IP Address:198.19.2.7',
    );
    expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(certificateServes(issued.certPem, issued.keyPem, ca.certPem, names, 60_000)).toBe(true);
    // A name it does not cover, another CA, or too little time left: it does not serve.
    expect(certificateServes(issued.certPem, issued.keyPem, ca.certPem, ['etcd-main-1'], 60_000)).toBe(false);
    const other = ca === rsaCa ? ecCa : rsaCa;
    expect(certificateServes(issued.certPem, issued.keyPem, other.certPem, names, 60_000)).toBe(false);
    expect(certificateServes(issued.certPem, issued.keyPem, ca.certPem, names, 2 * 3600_000)).toBe(false);
  });

  it("puts a load balancer's hostname (AWS-style) in as a DNS name, its IP as an IP address", async () => {
    const lb = 'a1b2-0.elb.eu-west-1.amazonaws.com';
    const names = memberCertificateNames(makeSpec(), 'etcd-main-0', lb);
    expect(names[names.length - 1]).toBe(lb);
    const issued = await issueCertificate(ecCa, { commonName: 'etcd-main-0', names, validityMs: 3600_000 });
    const san = new X509Certificate(issued.certPem).subjectAltName!.split(', ');
    expect(san).toContain(`DNS:${lb}`);
    expect(san).toContain('IP Address:127.0.0.1');
    expect(san.filter((n) => n.startsWith('IP Address:'))).toEqual(['IP Address:127.0.0.1']);
    expect(certificateServes(issued.certPem, issued.keyPem, ecCa.certPem, [lb], 60_000)).toBe(true);
  });

  it('refuses a key that does not belong to the CA certificate, and a leaf as CA', async () => {
    const mixed = { certPem: rsaCa.certPem, keyPem: ecCa.keyPem };
    await expect(
      issueCertificate(mixed, { commonName: 'x', names: ['x'], validityMs: 1000 }),
    ).rejects.toThrow(CertificateAuthorityError);
    const leaf = await issueCertificate(rsaCa, { commonName: 'leaf', names: ['leaf'], validityMs: 3600_000 });
    await expect(
      issueCertificate(
        { certPem: leaf.certPem, keyPem: leaf.keyPem },
        { commonName: 'x', names: ['x'], validityMs: 1000 },
      ),
    ).rejects.toThrow(/not a CA/);
  });

  it('never issues beyond the CA certificate', async () => {
    const issued = await issueCertificate(rsaCa, {
      commonName: 'long',
      names: ['long'],
      validityMs: 10 * 365 * 24 * 3600_000,
    });
    expect(new Date(issued.notAfter).getTime()).toBeLessThanOrEqual(
      new Date(new X509Certificate(rsaCa.certPem).validTo).getTime(),
    );
  });
});

const tlsFixture = YAML.parseAllDocuments(fs.readFileSync('test/fixtures/tls-etcd.yaml', 'utf8'))
  .map((d) => d.toJS() as { kind: string })
  .find((o) => o.kind === 'StatefulSet') as V1StatefulSet;

const tlsSpec = (tls: Record<string, unknown>) =>
  makeSpec((s) => {
    s.tls = tls;
  });

describe('target pod template with TLS', () => {
  const initialCluster =
    'etcd-0=https://etcd-0.etcd:2380,etcd-1=https://etcd-1.etcd:2380,etcd-2=https://etcd-2.etcd:2380,etcd-main-0=https://etcd-main-0.etcd-main:2380';

  it('mounts the issued Secret and points etcd at its own pod files; the source Secrets are gone', () => {
    const spec = tlsSpec({
      peer: { issueFrom: { caSecret: 'etcd-ca' } },
      client: { issueFrom: { caSecret: 'etcd-ca' } },
      peerSkipClientSanVerification: true,
    });
    const { statefulSet } = renderTargetStatefulSet(tlsFixture, spec, { replicas: 1, initialCluster });
    const pod = statefulSet.spec!.template.spec!;
    const etcd = pod.containers[0]!;
    expect(pod.volumes).toEqual([
      { name: 'etcd-stretch-peer-tls', secret: { secretName: 'etcd-main-peer-tls' } },
      { name: 'etcd-stretch-client-tls', secret: { secretName: 'etcd-main-client-tls' } },
    ]);
    expect(etcd.volumeMounts).toEqual([
      { name: 'data', mountPath: '/var/lib/etcd' },
      { name: 'etcd-stretch-peer-tls', mountPath: '/etc/etcd-stretch/peer', readOnly: true },
      { name: 'etcd-stretch-client-tls', mountPath: '/etc/etcd-stretch/client', readOnly: true },
    ]);
    // The pod's own name first, so that Kubernetes expands it in the variables after it.
    expect(etcd.env![0]).toEqual({
      name: MEMBER_ENV,
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    expect(flagValue(etcd, 'peer-cert-file')).toBe(`/etc/etcd-stretch/peer/$(${MEMBER_ENV}).crt`);
    expect(flagValue(etcd, 'peer-key-file')).toBe(`/etc/etcd-stretch/peer/$(${MEMBER_ENV}).key`);
    expect(flagValue(etcd, 'peer-trusted-ca-file')).toBe('/etc/etcd-stretch/peer/ca.crt');
    expect(flagValue(etcd, 'cert-file')).toBe(`/etc/etcd-stretch/client/$(${MEMBER_ENV}).crt`);
    expect(flagValue(etcd, 'trusted-ca-file')).toBe('/etc/etcd-stretch/client/ca.crt');
    // Client-certificate authentication stays as the source has it.
    expect(flagValue(etcd, 'client-cert-auth')).toBe('true');
    expect(flagValue(etcd, 'peer-client-cert-auth')).toBe('true');
    expect(flagValue(etcd, 'experimental-peer-skip-client-san-verification')).toBe('true');
    // Written once, where the source writes it (etcd >= 3.5 refuses a flag given twice).
    expect(etcd.env!.filter((e) => e.name === 'ETCD_CERT_FILE')).toHaveLength(1);
    expect(etcd.env!.findIndex((e) => e.name === 'ETCD_CERT_FILE')).toBeGreaterThan(0);
  });

  it("uses an operator-provided Secret's keys as they are, without per-pod files", () => {
    const spec = tlsSpec({
      peer: { secret: { name: 'my-peer', certKey: 'peer.pem', keyKey: 'peer-key.pem' } },
      client: { secret: { name: 'my-client' } },
    });
    const { statefulSet } = renderTargetStatefulSet(tlsFixture, spec, { replicas: 1, initialCluster });
    const etcd = statefulSet.spec!.template.spec!.containers[0]!;
    expect(flagValue(etcd, 'peer-cert-file')).toBe('/etc/etcd-stretch/peer/peer.pem');
    expect(flagValue(etcd, 'peer-key-file')).toBe('/etc/etcd-stretch/peer/peer-key.pem');
    expect(flagValue(etcd, 'key-file')).toBe('/etc/etcd-stretch/client/tls.key');
    expect(etcd.env!.some((e) => e.name === MEMBER_ENV)).toBe(false);
    expect(statefulSet.spec!.template.spec!.volumes!.map((v) => v.secret?.secretName)).toEqual([
      'my-peer',
      'my-client',
    ]);
  });

  /** The fixture with its etcd container changed (probe, extra variables). */
  const withEtcd = (change: (etcd: V1Container) => void): V1StatefulSet => {
    const sts = structuredClone(tlsFixture);
    change(sts.spec!.template.spec!.containers[0]!);
    return sts;
  };
  const issued = tlsSpec({ client: { issueFrom: { caSecret: 'etcd-ca' } } });
  const probeWith = (command: string[]) => ({ exec: { command }, periodSeconds: 10 });
  const withReadinessProbe = (command: string[]): V1StatefulSet =>
    withEtcd((etcd) => {
      etcd.readinessProbe = probeWith(command);
    });

  it('moves certificate paths named outside etcd settings: a shell probe gets the pod name from its environment', () => {
    const source = withEtcd((etcd) => {
      etcd.env!.push({ name: 'ETCDCTL_CACERT', value: '/etc/etcd/client-tls/ca.crt' });
      etcd.readinessProbe = probeWith([
        '/bin/sh',
        '-ec',
        'etcdctl --cert=/etc/etcd/client-tls/tls.crt --key="/etc/etcd/client-tls/tls.key" endpoint health',
      ]);
      etcd.livenessProbe = probeWith(['/bin/bash', '-c', 'test -r /etc/etcd/client-tls/tls.crt']);
    });
    const { statefulSet, notes } = renderTargetStatefulSet(source, issued, { replicas: 1, initialCluster });
    const etcd = statefulSet.spec!.template.spec!.containers[0]!;
    expect(etcd.readinessProbe!.exec!.command).toEqual([
      '/bin/sh',
      '-ec',
      `etcdctl --cert=/etc/etcd-stretch/client/\${${MEMBER_ENV}}.crt --key="/etc/etcd-stretch/client/\${${MEMBER_ENV}}.key" endpoint health`,
    ]);
    expect(etcd.livenessProbe!.exec!.command![2]).toBe(
      `test -r /etc/etcd-stretch/client/\${${MEMBER_ENV}}.crt`,
    );
    // Kubernetes expands $(VAR) in variables, after the pod name it sets first.
    expect(etcd.env!.find((e) => e.name === 'ETCDCTL_CACERT')!.value).toBe('/etc/etcd-stretch/client/ca.crt');
    expect(notes).toContain('readinessProbe: certificate paths moved');
    expect(JSON.stringify(etcd)).not.toContain('/etc/etcd/client-tls');
  });

  it("moves paths in a direct exec probe to an operator-provided Secret's files, and only whole paths", () => {
    const source = withReadinessProbe([
      '/usr/local/bin/etcdctl',
      '--cacert=/etc/etcd/client-tls/ca.crt',
      '--cert=/etc/etcd/client-tls/tls.crt',
      '--key=/etc/etcd/client-tls/tls.key',
      'endpoint',
      'health',
    ]);
    const spec = tlsSpec({ client: { secret: { name: 'my-client', certKey: 'c.pem', keyKey: 'k.pem' } } });
    const etcd = renderTargetStatefulSet(source, spec, { replicas: 1, initialCluster }).statefulSet.spec!
      .template.spec!.containers[0]!;
    expect(etcd.readinessProbe!.exec!.command!.slice(1, 4)).toEqual([
      '--cacert=/etc/etcd-stretch/client/ca.crt',
      '--cert=/etc/etcd-stretch/client/c.pem',
      '--key=/etc/etcd-stretch/client/k.pem',
    ]);
  });

  it('refuses a direct exec probe that would need the pod name to find its certificate', () => {
    const source = withReadinessProbe([
      'etcdctl',
      '--cert=/etc/etcd/client-tls/tls.crt',
      'endpoint',
      'health',
    ]);
    expect(() => renderTargetStatefulSet(source, issued, { replicas: 1, initialCluster })).toThrow(
      /readinessProbe of container etcd runs etcdctl with a certificate file named by path.*"sh -c"/,
    );
  });

  it('refuses a reference into a removed source certificate volume that no etcd certificate setting moves', () => {
    const source = withEtcd((etcd) => {
      etcd.env!.push({ name: 'ETCD_CLIENT_CRL_FILE', value: '/etc/etcd/client-tls/revoked.crl' });
    });
    expect(() => renderTargetStatefulSet(source, issued, { replicas: 1, initialCluster })).toThrow(
      /variable ETCD_CLIENT_CRL_FILE of container etcd refers to \/etc\/etcd\/client-tls, the source's certificate volume client-tls/,
    );
    // Whole paths only: a file beside a moved one is not taken for it.
    const beside = withEtcd((etcd) => {
      etcd.env!.push({ name: 'ETCDCTL_CACERT', value: '/etc/etcd/client-tls/ca.crt.old' });
    });
    expect(() => renderTargetStatefulSet(beside, issued, { replicas: 1, initialCluster })).toThrow(
      /variable ETCDCTL_CACERT .* refers to \/etc\/etcd\/client-tls/,
    );
  });

  it('names the SAN-check setting as the target etcd version knows it', () => {
    expect(skipSanFlag('gcr.io/etcd-development/etcd:v3.5.35')).toBe(
      'experimental-peer-skip-client-san-verification',
    );
    expect(skipSanFlag('quay.io/coreos/etcd:v3.4.18')).toBe('experimental-peer-skip-client-san-verification');
    expect(skipSanFlag('registry.k8s.io/etcd:3.6.4-0')).toBe('peer-skip-client-san-verification');
  });
});

describe('plan with issued certificates', () => {
  it('issues after the target load balancers have addresses and before any new member starts', () => {
    const spec = tlsSpec({
      peer: { issueFrom: { caSecret: 'etcd-ca' } },
      client: { issueFrom: { caSecret: 'etcd-ca' } },
    });
    const plan = planMigration({ spec, observed: { members: observedMembers(3, 'etcd', 'etcd', 'https') } });
    const ids = plan.steps.map((s) => s.id);
    const issue = ids.indexOf('expose/target/issue-certificates');
    expect(issue).toBeGreaterThan(ids.indexOf('expose/target/await-load-balancers'));
    expect(issue).toBeLessThan(ids.findIndex((id) => id.endsWith('scale-target')));
    const step = plan.steps[issue]!;
    expect(step).toMatchObject({
      kind: 'issue-certificates',
      members: ['etcd-main-0', 'etcd-main-1', 'etcd-main-2'],
      secrets: [
        { kind: 'peer', name: 'etcd-main-peer-tls', caSecret: 'etcd-ca' },
        { kind: 'client', name: 'etcd-main-client-tls', caSecret: 'etcd-ca' },
      ],
    });
  });

  it('has no issue step without issueFrom (plans of earlier runs are unchanged)', () => {
    const plan = planMigration({ spec: makeSpec(), observed: { members: observedMembers(3) } });
    expect(plan.steps.some((s) => s.kind === 'issue-certificates')).toBe(false);
  });

  it('covers every name a member is reached by', () => {
    const spec = makeSpec();
    expect(memberCertificateNames(spec, 'etcd-main-1', '198.19.2.9')).toEqual([
      'etcd-main-1',
      'etcd-main-1.etcd-main',
      'etcd-main-1.etcd-main.default',
      'etcd-main-1.etcd-main.default.svc',
      'etcd-main-1.etcd-main.default.svc.cluster.local',
      'localhost',
      '127.0.0.1',
      '198.19.2.9',
    ]);
  });
});
