/**
 * References to secrets and their resolution, shared by the etcd and Kubernetes libraries.
 * Workflow inputs carry references (`SecretRef`); only the worker turns them into bytes.
 *
 * `createSecretResolver` reads files itself and hands `{ secret: ... }` references to an
 * injected Kubernetes reader (kubernetes/secrets.ts); without one such a reference fails with a
 * clear, non-retryable SecretUnavailable.
 */
import { readFile } from 'node:fs/promises';
import type { Side } from '../core/activity-contract.js';
import { FailureType } from '../core/failure-types.js';
import { sidesServedBy } from '../core/routing/task-queues.js';
import type { MigrationSpec } from '../core/spec/schema.js';
import { defineErrorType } from './errors.js';

/** Where the worker reads a secret from: a file on the worker, or a key of a Kubernetes Secret. */
export type SecretRef =
  { file: string } | { secret: { context?: string; namespace: string; name: string; key: string } };

/** Resolves secret references to their bytes, inside the worker only. */
export interface SecretResolver {
  read(ref: SecretRef): Promise<Buffer>;
}

/** A spec's reference to a Secret of one side (`tls.operator`, `auth.secret`). */
export interface SpecSecretRef {
  cluster: Side;
  namespace?: string;
  name: string;
}

/** Where a worker reads a spec's Secret reference: the side (cluster) and namespace. */
export interface SecretLocation {
  side: Side;
  context: string;
  namespace: string;
}

/**
 * Where the worker serving `cluster` (absent: every cluster, single mode) reads `ref`: on the side
 * the reference names when it serves that side; else (a per-cluster worker asked about the other
 * cluster's Secret) in its own cluster, under the same name, in the namespace the reference gives
 * or else its own side's. So in per-cluster mode the Secret must exist in both clusters.
 */
export function secretLocation(spec: MigrationSpec, ref: SpecSecretRef, cluster?: string): SecretLocation {
  const served = sidesServedBy(spec, cluster);
  const side = served.includes(ref.cluster) ? ref.cluster : (served[0] ?? ref.cluster);
  return { side, context: spec[side].context, namespace: ref.namespace ?? spec[side].namespace };
}

export class SecretUnavailable extends defineErrorType(FailureType.SecretUnavailable, false) {}

export function describeSecretRef(ref: SecretRef): string {
  if ('file' in ref) return `file ${ref.file}`;
  const s = ref.secret;
  return `Secret ${s.context ? `${s.context}/` : ''}${s.namespace}/${s.name}[${s.key}]`;
}

export interface SecretResolverOptions {
  /** Reads `{ secret: ... }` references. */
  kubernetes?: SecretResolver;
}

export function createSecretResolver(options: SecretResolverOptions = {}): SecretResolver {
  return {
    async read(ref: SecretRef): Promise<Buffer> {
      if ('file' in ref) {
        try {
          return await readFile(ref.file);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          throw new SecretUnavailable(`cannot read ${describeSecretRef(ref)} on the worker: ${code}`, {
            details: { ref: describeSecretRef(ref), code },
          });
        }
      }
      if (!options.kubernetes) {
        throw new SecretUnavailable(
          `cannot resolve ${describeSecretRef(ref)}: this worker has no Kubernetes secret reader configured ` +
            `(use a { file } reference or configure the Kubernetes resolver)`,
          { details: { ref: describeSecretRef(ref) } },
        );
      }
      return options.kubernetes.read(ref);
    },
  };
}

/** Reads a secret as text, without a trailing newline (secret files usually end with one). */
export async function readSecretText(resolver: SecretResolver, ref: SecretRef): Promise<string> {
  return (await resolver.read(ref)).toString('utf8').replace(/\r?\n$/, '');
}
