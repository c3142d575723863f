/**
 * Preflight and secrets: the Secrets the spec names must exist with the keys it names (values
 * are never read out), each where the worker that needs it will read it; and in per-cluster mode
 * the source pod template, which travels through the workflow's history, must hold no literal
 * secret-looking values.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import { sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { kubeGetOptional, opOn } from '../kubernetes/errors.js';
import { secretLocation, type SecretLocation } from '../secret-ref.js';
import type { MigrationSpec } from '../../core/spec/schema.js';

export interface SecretCheck {
  field: string;
  location: SecretLocation;
  name: string;
  keys: Record<string, string>;
  /** The worker needs it to talk to etcd at all. */
  forEtcdAccess: boolean;
  /** Read in the worker's own cluster in place of the other cluster the reference names. */
  copyOfOtherCluster: boolean;
}

/** The Secrets the new members mount or are issued from: in the target namespace. */
export function targetSecretChecks(spec: MigrationSpec): SecretCheck[] {
  const location: SecretLocation = {
    side: 'target',
    context: spec.target.context,
    namespace: spec.target.namespace,
  };
  const checks: SecretCheck[] = [];
  for (const kind of ['peer', 'client'] as const) {
    const source = spec.tls[kind];
    if (source?.secret) {
      const { name, certKey, keyKey, caKey } = source.secret;
      checks.push({
        field: `tls.${kind}.secret`,
        location,
        name,
        keys: { certKey, keyKey, caKey },
        forEtcdAccess: false,
        copyOfOtherCluster: false,
      });
    }
    if (source?.issueFrom) {
      const { caSecret, certKey, keyKey } = source.issueFrom;
      checks.push({
        field: `tls.${kind}.issueFrom.caSecret`,
        location,
        name: caSecret,
        keys: { certKey, keyKey },
        forEtcdAccess: false,
        copyOfOtherCluster: false,
      });
    }
  }
  return checks;
}

/** The Secrets the worker serving `cluster` reads to reach etcd, where it reads them (secretLocation). */
export function etcdAccessSecretChecks(spec: MigrationSpec, cluster: string | undefined): SecretCheck[] {
  const checks: SecretCheck[] = [];
  const op = spec.tls.operator;
  if (op) {
    const location = secretLocation(spec, op, cluster);
    checks.push({
      field: 'tls.operator',
      location,
      name: op.name,
      keys: { certKey: op.certKey, keyKey: op.keyKey, caKey: op.caKey },
      forEtcdAccess: true,
      copyOfOtherCluster: location.side !== op.cluster,
    });
  }
  const auth = spec.auth?.secret;
  if (auth) {
    const location = secretLocation(spec, auth, cluster);
    checks.push({
      field: 'auth.secret',
      location,
      name: auth.name,
      keys: { usernameKey: auth.usernameKey, passwordKey: auth.passwordKey },
      forEtcdAccess: true,
      copyOfOtherCluster: location.side !== auth.cluster,
    });
  }
  return checks;
}

/** One refusal per missing Secret or key; `etcdAccessBroken` when etcd cannot be reached without it. */
export async function secretReferenceRefusals(
  env: KubeEnv,
  spec: MigrationSpec,
  checks: SecretCheck[],
): Promise<{ refusals: string[]; etcdAccessBroken: boolean }> {
  const refusals: string[] = [];
  let etcdAccessBroken = false;
  for (const c of checks) {
    const { namespace } = c.location;
    const side = { ...sideOf(env, spec, c.location.side), namespace };
    const secret = await kubeGetOptional(opOn(side, 'get', 'secrets', c.name), () =>
      side.clients.core.readNamespacedSecret({ name: c.name, namespace }),
    );
    const where = `${namespace}/${c.name} in context ${side.context} (${c.location.side} cluster)`;
    const why = c.copyOfOtherCluster
      ? ' (per-cluster: the Secret must exist in both clusters, each worker reads its own)'
      : '';
    if (!secret) {
      refusals.push(`${c.field}: Secret ${where} not found: create it first${why}`);
      if (c.forEtcdAccess) etcdAccessBroken = true;
      continue;
    }
    const present = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
    for (const [field, key] of Object.entries(c.keys)) {
      if (!present.has(key)) {
        refusals.push(`${c.field}.${field}: Secret ${where} has no key "${key}"${why}`);
        if (c.forEtcdAccess) etcdAccessBroken = true;
      }
    }
  }
  return { refusals, etcdAccessBroken };
}

/** Names of values that are secrets; `_FILE`, `_PATH` and `_DIR` ones name where a secret is. */
const SECRET_LOOKING = /PASSWORD|TOKEN|SECRET|KEY/i;
const NAMES_A_PLACE = /_(FILE|PATH|DIR)$/i;

/**
 * In per-cluster mode the source pod template goes into the workflow's history (the target
 * worker renders the target from it): literal env values whose names look secret are refused,
 * one refusal naming them all. `valueFrom` (a Secret reference) is fine.
 */
export function literalSecretEnvRefusal(spec: MigrationSpec, sts: V1StatefulSet): string | undefined {
  const podSpec = sts.spec?.template?.spec;
  const found: string[] = [];
  for (const c of [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.value !== undefined && SECRET_LOOKING.test(e.name) && !NAMES_A_PLACE.test(e.name)) {
        found.push(`${c.name}: ${e.name}`);
      }
    }
  }
  if (found.length === 0) return undefined;
  return (
    `StatefulSet ${spec.source.namespace}/${spec.source.statefulSet} sets secret-looking environment variables to literal values (${found.join(', ')}): ` +
    `in per-cluster mode the source pod template goes into the workflow's history for the target worker; take them from a Secret (valueFrom.secretKeyRef) first`
  );
}
