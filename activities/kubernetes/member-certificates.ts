/**
 * Certificates for the new members, issued from the CA Secret a spec's `tls.<peer|client>.issueFrom`
 * names, into one Secret per kind in the target namespace (`<statefulset>-<kind>-tls`): `ca.crt`,
 * and `<pod>.crt` / `<pod>.key` for every new member. The target pod template mounts that Secret
 * and points etcd at its own pod's files (render-target.ts).
 *
 * Each certificate's subjectAltName covers what anyone uses to reach that member: the pod name,
 * `<pod>.<service>` and its `.<namespace>`, `.svc` and `.svc.cluster.local` forms, its
 * load-balancer address (IP or hostname, known after `await-load-balancers`), `localhost` and
 * 127.0.0.1 (probes inside the pod).
 *
 * Idempotent: a certificate that still serves (same CA, the names covered, at least half of its
 * validity left) is kept; the Secret is written only when something changed. Results name the
 * Secret and the certificates' names and expiry, never key material.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { parseDuration } from '../../core/spec/duration.js';
import { CertificateAuthorityError, certificateServes, issueCertificates } from './certificate-issuer.js';
import { sideOf, type KubeEnv, type KubeSide } from './clients.js';
import { PreconditionFailed, kubeCall, kubeDeleteIdempotent, kubeGetOptional, opOn } from './errors.js';
import { MANAGED_BY, MANAGED_BY_LABEL, STATEFULSET_LABEL, isManagedByUs } from './labels.js';
import { applyObject } from './target-statefulset.js';

export type CertificateKind = 'peer' | 'client';
export const CERTIFICATE_KINDS: readonly CertificateKind[] = ['peer', 'client'];

/** The Secret the new members' issued certificates of one kind go into. */
export function issuedSecretName(spec: MigrationSpec, kind: CertificateKind): string {
  return `${spec.target.statefulSet}-${kind}-tls`;
}

/** Kinds whose certificates the migration issues (`issueFrom`). */
export function issuedKinds(spec: MigrationSpec): CertificateKind[] {
  return CERTIFICATE_KINDS.filter((kind) => spec.tls[kind]?.issueFrom !== undefined);
}

/** Every name a new member is reached by (subjectAltName). */
export function memberCertificateNames(spec: MigrationSpec, member: string, lbAddress?: string): string[] {
  const { service, namespace } = spec.target;
  const names = [
    member,
    `${member}.${service}`,
    `${member}.${service}.${namespace}`,
    `${member}.${service}.${namespace}.svc`,
    `${member}.${service}.${namespace}.svc.cluster.local`,
    'localhost',
    '127.0.0.1',
  ];
  if (lbAddress && !names.includes(lbAddress)) names.push(lbAddress);
  return names;
}

export interface MemberCertificatesInput {
  spec: MigrationSpec;
  /** The new members (pod names). */
  members: string[];
  /** Member -> load-balancer IP or hostname, when the members are exposed through load balancers. */
  addresses?: Record<string, string>;
}

export interface IssuedSecretSummary {
  kind: CertificateKind;
  secret: string;
  /** Members whose certificate was (re)issued now; the others' were kept. */
  issued: string[];
  kept: string[];
  notAfter: Record<string, string>;
  /** The subjectAltName of each member's certificate. */
  names: Record<string, string[]>;
}

export interface MemberCertificatesResult {
  secrets: IssuedSecretSummary[];
}

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

async function readCa(target: KubeSide, spec: MigrationSpec, kind: CertificateKind) {
  const from = spec.tls[kind]!.issueFrom!;
  const field = `tls.${kind}.issueFrom`;
  const secret = await kubeCall(opOn(target, 'get', 'secrets', from.caSecret), () =>
    target.clients.core.readNamespacedSecret({ name: from.caSecret, namespace: target.namespace }),
  );
  const certPem = decode(secret, from.certKey);
  const keyPem = decode(secret, from.keyKey);
  if (!certPem || !keyPem) {
    throw new PreconditionFailed(
      `${field}: Secret ${target.namespace}/${from.caSecret} has no key "${certPem ? from.keyKey : from.certKey}"`,
    );
  }
  const validityMs = parseDuration(from.validity) ?? 365 * 24 * 3600_000;
  return { certPem, keyPem, validityMs, field };
}

/** Issues (or keeps) the certificates of every `issueFrom` kind for `members`. */
export async function ensureMemberCertificates(
  env: KubeEnv,
  input: MemberCertificatesInput,
): Promise<MemberCertificatesResult> {
  const { spec } = input;
  const target = sideOf(env, spec, 'target');
  const secrets: IssuedSecretSummary[] = [];
  for (const kind of issuedKinds(spec)) {
    const name = issuedSecretName(spec, kind);
    const ca = await readCa(target, spec, kind);
    const existing = await kubeGetOptional(opOn(target, 'get', 'secrets', name), () =>
      target.clients.core.readNamespacedSecret({ name, namespace: target.namespace }),
    );
    if (existing && !isManagedByUs(existing.metadata)) {
      throw new PreconditionFailed(
        `Secret ${target.namespace}/${name} in context ${target.context} exists and was not created by etcd-stretch: the new members' ${kind} certificates need that name`,
      );
    }
    const data: Record<string, string> = { 'ca.crt': ca.certPem };
    const summary: IssuedSecretSummary = {
      kind,
      secret: name,
      issued: [],
      kept: [],
      notAfter: {},
      names: {},
    };
    const toIssue: { member: string; names: string[] }[] = [];
    // Kept while half of the validity a new one would get is left (never more than the CA's).
    const caLeftMs = new Date(new X509Certificate(ca.certPem).validTo).getTime() - Date.now();
    const minRemainingMs = Math.min(ca.validityMs, caLeftMs) / 2;
    for (const member of input.members) {
      const names = memberCertificateNames(spec, member, input.addresses?.[member]);
      summary.names[member] = names;
      const cert = decode(existing, `${member}.crt`);
      const key = decode(existing, `${member}.key`);
      if (cert && key && certificateServes(cert, key, ca.certPem, names, minRemainingMs)) {
        data[`${member}.crt`] = cert;
        data[`${member}.key`] = key;
        summary.kept.push(member);
      } else {
        toIssue.push({ member, names });
      }
    }
    let issued;
    try {
      issued = await issueCertificates(
        ca,
        toIssue.map((t) => ({ commonName: t.member, names: t.names, validityMs: ca.validityMs })),
      );
    } catch (err) {
      if (err instanceof CertificateAuthorityError)
        throw new PreconditionFailed(`${ca.field}: ${err.message}`);
      throw err;
    }
    toIssue.forEach((t, i) => {
      data[`${t.member}.crt`] = issued[i]!.certPem;
      data[`${t.member}.key`] = issued[i]!.keyPem;
      summary.issued.push(t.member);
    });
    // Members the Secret holds beyond this list (a larger earlier run) stay: their pods may run.
    for (const key of Object.keys(existing?.data ?? {})) {
      if (!(key in data)) data[key] = decode(existing, key)!;
    }
    for (const member of input.members) {
      const cert = data[`${member}.crt`]!;
      summary.notAfter[member] = new Date(new X509Certificate(cert).validTo).toISOString();
    }
    if (toIssue.length > 0 || decode(existing, 'ca.crt') !== ca.certPem) {
      const secret: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name,
          namespace: target.namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [STATEFULSET_LABEL]: spec.target.statefulSet },
        },
        data: Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
      };
      await applyObject(target, secret, 'secrets');
    }
    secrets.push(summary);
  }
  return { secrets };
}

/** Undo of ensureMemberCertificates: deletes the issued Secrets (only those etcd-stretch created). */
export async function deleteMemberCertificates(
  env: KubeEnv,
  input: { spec: MigrationSpec },
): Promise<{ deleted: string[] }> {
  const { spec } = input;
  const target = sideOf(env, spec, 'target');
  const deleted: string[] = [];
  for (const kind of issuedKinds(spec)) {
    const name = issuedSecretName(spec, kind);
    const existing = await kubeGetOptional(opOn(target, 'get', 'secrets', name), () =>
      target.clients.core.readNamespacedSecret({ name, namespace: target.namespace }),
    );
    if (!existing || !isManagedByUs(existing.metadata)) continue;
    const gone = await kubeDeleteIdempotent(opOn(target, 'delete', 'secrets', name), () =>
      target.clients.core.deleteNamespacedSecret({ name, namespace: target.namespace }),
    );
    if (gone) deleted.push(name);
  }
  return { deleted };
}
