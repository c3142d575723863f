/**
 * The Kubernetes-Secret `SecretResolver`: reads one key of a Secret, inside the worker only
 * (the bytes never go into workflow history). Plug it in with
 * `createSecretResolver({ kubernetes: createKubernetesSecretResolver(...) })` (../secret-ref.ts).
 */
import { describeSecretRef, SecretUnavailable, type SecretRef, type SecretResolver } from '../secret-ref.js';
import type { ClientsForContext } from './clients.js';
import { Forbidden, NotFound, kubeCall } from './errors.js';

export interface KubernetesSecretResolverOptions {
  clients: ClientsForContext;
  /** Context for references without one (e.g. the spec's source context); without it such a reference fails. */
  defaultContext?: string;
}

export function createKubernetesSecretResolver(options: KubernetesSecretResolverOptions): SecretResolver {
  return {
    async read(ref: SecretRef): Promise<Buffer> {
      if ('file' in ref) {
        throw new SecretUnavailable(`${describeSecretRef(ref)} is not a Kubernetes Secret reference`);
      }
      const { namespace, name, key } = ref.secret;
      const context = ref.secret.context ?? options.defaultContext;
      if (!context) {
        throw new SecretUnavailable(
          `${describeSecretRef(ref)}: the reference names no kubeconfig context and the resolver has no default`,
        );
      }
      const what = describeSecretRef({ secret: { ...ref.secret, context } });
      let data: Record<string, string> | undefined;
      try {
        let clients;
        try {
          clients = options.clients(context);
        } catch (err) {
          throw new SecretUnavailable(`cannot read ${what}: ${(err as Error).message}`, {
            details: { ref: what },
          });
        }
        const secret = await kubeCall({ verb: 'get', resource: 'secrets', context, namespace, name }, () =>
          clients.core.readNamespacedSecret({ name, namespace }),
        );
        data = secret.data;
      } catch (err) {
        if (err instanceof NotFound || err instanceof Forbidden) {
          throw new SecretUnavailable(`cannot read ${what}: ${err.message}`, {
            details: { ref: what, reason: err.type },
          });
        }
        throw err; // unavailable API server etc.: retryable, typed by kubeCall
      }
      const value = data?.[key];
      if (value === undefined) {
        throw new SecretUnavailable(`${what}: the Secret has no key "${key}"`, {
          details: { ref: what, keys: Object.keys(data ?? {}) },
        });
      }
      return Buffer.from(value, 'base64');
    },
  };
}
