/**
 * Typed errors of the Kubernetes library and the mapping from `ApiException`
 * (and network failures) to them, through the shared mechanism of `../errors.ts`.
 *
 * Retryable (the cause is likely transient; the workflow's retry policy bounds it):
 *   Conflict (409: someone changed the object between our read and write, or AlreadyExists
 *   racing a create), KubernetesUnavailable (5xx, 429, timeouts, connection failures),
 *   KubernetesRequestFailed (anything else unexpected)
 * Not retryable (retrying the same call cannot help; the workflow or the operator must act):
 *   NotFound, Forbidden (names the verb and resource the worker lacks), Unauthorized,
 *   Invalid (carries the API server's message), PreconditionFailed (a check of ours refused,
 *   nothing was changed), DeadlineExceeded (the activity already waited until its own deadline),
 *   WrongCluster (a per-cluster worker was asked for another cluster: the routing is wrong)
 */
import { ApiException } from '@kubernetes/client-node';
import { FailureType } from '../../core/failure-types.js';
import type { Side } from '../../core/activity-contract.js';
import { defineErrorType, isTypedError, type ErrorDetails, type TypedError } from '../errors.js';
import { sleep } from '../run-context.js';

export class Conflict extends defineErrorType(FailureType.Conflict, true) {}
export class KubernetesUnavailable extends defineErrorType(FailureType.KubernetesUnavailable, true) {}
export class KubernetesRequestFailed extends defineErrorType(FailureType.KubernetesRequestFailed, true) {}
export class NotFound extends defineErrorType(FailureType.NotFound, false) {}
export class Forbidden extends defineErrorType(FailureType.Forbidden, false) {}
export class Unauthorized extends defineErrorType(FailureType.Unauthorized, false) {}
export class Invalid extends defineErrorType(FailureType.Invalid, false) {}
export class PreconditionFailed extends defineErrorType(FailureType.PreconditionFailed, false) {}
export class DeadlineExceeded extends defineErrorType(FailureType.DeadlineExceeded, false) {}
export class WrongCluster extends defineErrorType(FailureType.WrongCluster, false) {}

/** What a call was doing, in RBAC terms, so that a refusal can name exactly what is missing. */
export interface KubeOperation {
  /** RBAC verb: get, list, create, patch, update, delete. */
  verb: string;
  /** Resource as RBAC names it, with its group: `statefulsets.apps`, `services`, `statefulsets.apps/scale`. */
  resource: string;
  /** Kubeconfig context (cluster) the call went to. */
  context: string;
  /** Which side of the migration that cluster is (names the RBAC manifest to extend). */
  side?: Side;
  namespace?: string;
  name?: string;
}

/** A `KubeOperation` on one side; `namespace: null` for a cluster-scoped resource. */
export function opOn(
  where: { side: Side; context: string; namespace: string },
  verb: string,
  resource: string,
  name?: string,
  namespace: string | null = where.namespace,
): KubeOperation {
  return {
    verb,
    resource,
    context: where.context,
    side: where.side,
    ...(namespace !== null ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/** The `Status` object the API server sends with an error, as far as we use it. */
interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: { message?: string; field?: string; reason?: string }[] };
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (body && typeof body === 'object') return body;
  if (typeof body !== 'string' || body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return { message: body.slice(0, 500) };
  }
}

export function describeOperation(op: KubeOperation): string {
  const obj = op.name ? `${op.resource} "${op.name}"` : op.resource;
  const where = op.namespace ? ` in namespace "${op.namespace}"` : ' (cluster-scoped)';
  return `${op.verb} ${obj}${where} of cluster ${op.context}`;
}

/** Parses the API server's RBAC refusal: `... cannot patch resource "statefulsets" in API group "apps" ...`. */
function forbiddenRule(message: string): { verb: string; resource: string; namespace?: string } | undefined {
  const m =
    /cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?/.exec(
      message,
    );
  if (!m) return undefined;
  const [, verb, resource, group, namespace] = m;
  return {
    verb: verb ?? '?',
    resource: group ? `${resource}.${group}` : (resource ?? '?'),
    ...(namespace ? { namespace } : {}),
  };
}

/**
 * The client's fetch (undici) throws `fetch failed` with the cause's code: a socket's
 * (ECONNREFUSED) or undici's own (UND_ERR_SOCKET when the server closed the connection).
 */
function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  const msg = err instanceof Error ? err.message : String(err);
  if (/fetch failed|socket hang up|network|ECONNREFUSED|ECONNRESET|ETIMEDOUT/i.test(msg)) return 'network';
  return undefined;
}

/**
 * Maps anything a Kubernetes call threw into one of the typed errors above; typed errors pass through.
 * The message never contains the raw response headers (the `ApiException` message does).
 */
export function classifyKubeError(err: unknown, op: KubeOperation): TypedError {
  if (isTypedError(err)) return err;
  const what = describeOperation(op);
  const baseDetails: ErrorDetails = {
    verb: op.verb,
    resource: op.resource,
    context: op.context,
    ...(op.namespace ? { namespace: op.namespace } : {}),
    ...(op.name ? { name: op.name } : {}),
  };
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const status = parseStatus((err as ApiException<unknown>).body);
    const serverMessage = (status?.message ?? '').slice(0, 1000);
    const details: ErrorDetails = {
      ...baseDetails,
      code,
      ...(status?.reason ? { reason: status.reason } : {}),
      ...(serverMessage ? { serverMessage } : {}),
    };
    const opts = { details, cause: err };
    switch (code) {
      case 401:
        return new Unauthorized(
          `${what}: the API server did not accept the worker's credentials (401); check the kubeconfig user of context ${op.context}`,
          opts,
        );
      case 403: {
        const rule = forbiddenRule(serverMessage);
        const verb = rule?.verb ?? op.verb;
        const resource = rule?.resource ?? op.resource;
        const ns = rule?.namespace ?? op.namespace;
        return new Forbidden(
          `Forbidden: the worker may not ${verb} ${resource}${op.name ? ` "${op.name}"` : ''}` +
            `${ns ? ` in namespace "${ns}"` : ' (cluster-scoped)'} of cluster ${op.context}; ` +
            `grant it in deploy/rbac-${op.side ?? '<source|target>'}.yaml ` +
            `(API server: ${serverMessage || 'forbidden'})`,
          { ...opts, details: { ...details, verb, resource, ...(ns ? { namespace: ns } : {}) } },
        );
      }
      case 404:
        return new NotFound(`${what}: not found${serverMessage ? ` (${serverMessage})` : ''}`, opts);
      case 409:
        return new Conflict(
          `${what}: conflict${serverMessage ? `: ${serverMessage}` : ''} (the object changed meanwhile; retry reads it again)`,
          opts,
        );
      case 400:
      case 422: {
        const causes = (status?.details?.causes ?? [])
          .map((c) => [c.field, c.message].filter(Boolean).join(': '))
          .filter(Boolean)
          .slice(0, 10);
        return new Invalid(
          `${what}: the API server refused the request: ${serverMessage || `HTTP ${code}`}`,
          {
            ...opts,
            details: { ...details, ...(causes.length ? { causes } : {}) },
          },
        );
      }
      case 408:
      case 429:
      case 500:
      case 502:
      case 503:
      case 504:
        return new KubernetesUnavailable(
          `${what}: HTTP ${code}${serverMessage ? `: ${serverMessage}` : ''}`,
          opts,
        );
      default:
        return new KubernetesRequestFailed(
          `${what}: HTTP ${code}${serverMessage ? `: ${serverMessage}` : ''}`,
          opts,
        );
    }
  }
  const msg = (err instanceof Error ? err.message : String(err)).slice(0, 500);
  if (msg.includes('Unrecognized API version and kind')) {
    // KubernetesObjectApi's discovery: the API server does not serve that kind (no such CRD).
    return new NotFound(`${what}: the API server does not serve this kind (${msg})`, {
      details: baseDetails,
      cause: err,
    });
  }
  const net = networkCode(err);
  if (net) {
    return new KubernetesUnavailable(`${what}: cannot reach the API server (${net}): ${msg}`, {
      details: { ...baseDetails, network: net },
      cause: err,
    });
  }
  return new KubernetesRequestFailed(`${what}: ${msg}`, { details: baseDetails, cause: err });
}

const READ_VERBS = new Set(['get', 'list']);
const READ_RETRY_DELAYS_MS = [200, 500, 1000];

/**
 * Runs one API call, converting what it throws with `classifyKubeError`. Reads are retried in
 * place a few times on a transient answer (5xx, connection reset): one bad answer among the
 * dozens of reads of a preflight must not fail the whole activity. Writes are not: whether one
 * was applied is for the activity's idempotent retry to find out.
 */
export async function kubeCall<T>(op: KubeOperation, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const typed = classifyKubeError(err, op);
      const delay = READ_RETRY_DELAYS_MS[attempt];
      if (!READ_VERBS.has(op.verb) || delay === undefined || !(typed instanceof KubernetesUnavailable))
        throw typed;
      await sleep(delay);
    }
  }
}

/** The same call, with `undefined` for a 404. */
export async function kubeGetOptional<T>(op: KubeOperation, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await kubeCall(op, fn);
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw err;
  }
}

/** A delete that treats "already gone" as success; true when something was deleted. */
export async function kubeDeleteIdempotent(op: KubeOperation, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await kubeCall(op, fn);
    return true;
  } catch (err) {
    if (err instanceof NotFound) return false;
    throw err;
  }
}

/**
 * Read-modify-write with optimistic concurrency: retries `attempt` on Conflict
 * (someone else wrote the object between our read and our write) up to `tries` times.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof Conflict) || i >= tries) throw err;
      await sleep(50 * i);
    }
  }
}

/** Errors of the pure parts (rendering, Corefile and JSON-patch editing): refusals, nothing was changed. */
const PURE_REFUSALS = new Set(['RenderError', 'CorefileError', 'JsonPatchError']);

/** Runs `fn`, turning a refusal of a pure part into a non-retryable PreconditionFailed. */
export async function refusalsAsPreconditions<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && !isTypedError(err) && PURE_REFUSALS.has(err.name)) {
      throw new PreconditionFailed(err.message, { details: { refusal: err.name }, cause: err });
    }
    throw err;
  }
}
