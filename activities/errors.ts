/**
 * A small shared mechanism for typed activity errors.
 *
 * Every activity failure the workflow is expected to react to is a `TypedError`
 * with a stable `type` name (what the workflow matches on, and what a retry
 * policy's `nonRetryableErrorTypes` can name) and a deliberate `retryable`
 * flag. At the activity boundary `toApplicationFailure` turns any thrown value
 * into a Temporal `ApplicationFailure` carrying exactly that type, flag and a
 * small, serialisable `details` object; `withApplicationFailures` applies it
 * once, to the migration activities (migration/index.ts).
 *
 * Kinds of errors are declared with `defineErrorType(FailureType.X, retryable)`
 * (core/failure-types.ts names them all): the etcd library's in etcd/errors.ts,
 * the Kubernetes library's in kubernetes/errors.ts, SecretUnavailable in
 * secret-ref.ts, the migration activities' own in migration/index.ts.
 */
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';

/** Small, JSON-serialisable facts about a failure. Never key material or full key dumps. */
export type ErrorDetails = Record<string, unknown>;

export interface TypedErrorOptions {
  /** Overrides the default of the error type (rarely needed). */
  retryable?: boolean;
  details?: ErrorDetails;
  cause?: unknown;
}

export class TypedError extends Error {
  readonly type: string;
  readonly retryable: boolean;
  readonly details: ErrorDetails | undefined;

  constructor(type: string, message: string, retryable: boolean, options: TypedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = type;
    this.type = type;
    this.retryable = options.retryable ?? retryable;
    this.details = options.details;
  }
}

export interface TypedErrorClass<T extends string> {
  new (message: string, options?: TypedErrorOptions): TypedError & { readonly type: T };
  readonly type: T;
  readonly retryable: boolean;
}

/**
 * Declares a kind of error. Use as `export class Foo extends defineErrorType(FailureType.Foo, false) {}`
 * so that `instanceof Foo` works and `Foo.type` names it.
 */
export function defineErrorType<T extends string>(type: T, retryable: boolean): TypedErrorClass<T> {
  const cls = class extends TypedError {
    static readonly type = type;
    static readonly retryable = retryable;
    declare readonly type: T;
    constructor(message: string, options?: TypedErrorOptions) {
      super(type, message, retryable, options);
    }
  };
  Object.defineProperty(cls, 'name', { value: type });
  return cls;
}

export function isTypedError(err: unknown): err is TypedError {
  return err instanceof TypedError;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/**
 * Converts anything thrown inside an activity into an `ApplicationFailure`.
 * - `ApplicationFailure`: passed through unchanged;
 * - `TypedError`: its type, retryable flag and details;
 * - anything else: type = the error's class name, retryable (Temporal's default
 *   for unknown failures), so that the retry policy decides.
 */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof TypedError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      nonRetryable: !err.retryable,
      details: err.details === undefined ? [] : [err.details],
    });
  }
  const type = err instanceof Error && err.name ? err.name : 'Error';
  return ApplicationFailure.create({ type, message: errorMessage(err), nonRetryable: false });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AsyncFn = (...args: any[]) => Promise<unknown>;

/**
 * Wraps every function of an activities object so that what it throws is
 * converted by `toApplicationFailure` (Temporal failures such as a
 * cancellation pass through unchanged).
 */
export function withApplicationFailures<T extends Record<string, AsyncFn>>(activities: T): T {
  const wrapped: Record<string, AsyncFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const wrapper = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await fn(...args);
      } catch (err) {
        // Cancellation and other Temporal failures keep their meaning.
        if (err instanceof TemporalFailure) throw err;
        throw toApplicationFailure(err);
      }
    };
    // Temporal registers activities by property name; keep the function name for stack traces too.
    Object.defineProperty(wrapper, 'name', { value: name });
    wrapped[name] = wrapper;
  }
  return wrapped as T;
}
