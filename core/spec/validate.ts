/**
 * `parseMigrationSpec`: unknown input (parsed YAML/JSON) -> a validated `MigrationSpec` with
 * defaults, or a list of errors that each name the field path and what is wrong with it, e.g.
 * `target.loadBalancer.sourceRanges[1]: "10.0.0.0/33" is not a valid CIDR (...)`.
 * Pure (no I/O): usable from the workflow, the CLI and tests.
 */
import type { z } from 'zod';
import { migrationSpecSchema, type MigrationSpec } from './schema.js';

export interface SpecError {
  /** Field path, e.g. `target.loadBalancer.sourceRanges[1]`; empty for the document itself. */
  path: string;
  message: string;
}

export type ParseSpecResult = { ok: true; spec: MigrationSpec } | { ok: false; errors: SpecError[] };

export function parseMigrationSpec(input: unknown): ParseSpecResult {
  const result = migrationSpecSchema.safeParse(input, { error: issueMessage });
  if (result.success) return { ok: true, spec: result.data };
  return { ok: false, errors: result.error.issues.flatMap(toSpecErrors) };
}

/** Like `parseMigrationSpec`, but throws an Error whose message lists every problem. */
export function assertMigrationSpec(input: unknown, source = 'migration spec'): MigrationSpec {
  const result = parseMigrationSpec(input);
  if (!result.ok) throw new Error(formatSpecErrors(result.errors, source));
  return result.spec;
}

/** Human form: a header line and one `path: message` line per error. */
export function formatSpecErrors(errors: readonly SpecError[], source = 'migration spec'): string {
  const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
  const lines = errors.map((e) => `  ${e.path === '' ? '(document)' : e.path}: ${e.message}`);
  return [`${source} is invalid (${count}):`, ...lines].join('\n');
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `['target', 'loadBalancer', 'sourceRanges', 1]` -> `target.loadBalancer.sourceRanges[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      out += IDENTIFIER.test(key) ? (out === '' ? key : `.${key}`) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

function toSpecErrors(issue: z.core.$ZodIssue): SpecError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: 'unknown field (check the spelling; secret values never belong in the spec)',
    }));
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object (a mapping of fields)',
  array: 'a list',
  record: 'a mapping',
};

/** Error messages for zod's built-in checks; custom checks bring their own messages. */
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if ((issue.path ?? []).length === 0 && (issue.input === undefined || issue.input === null)) {
        return 'the spec is empty (expected version: 1, kind: EtcdMigration, source, target, ...)';
      }
      if (issue.input === undefined) return 'is required';
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return `expected ${expected}, got ${describeValue(issue.input)}`;
    }
    case 'invalid_value':
      if (issue.input === undefined)
        return `is required (${issue.values.map((v) => JSON.stringify(v)).join(' or ')})`;
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describeValue(issue.input)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} entries`;
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters`;
      return `must be at most ${String(issue.maximum)}, got ${describeValue(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array')
        return Number(issue.minimum) === 1
          ? 'must not be empty'
          : `must have at least ${String(issue.minimum)} entries`;
      if (issue.origin === 'string')
        return Number(issue.minimum) === 1
          ? 'must not be empty'
          : `must be at least ${String(issue.minimum)} characters`;
      return `must be at least ${String(issue.minimum)}, got ${describeValue(issue.input)}`;
    case 'invalid_union': {
      const discriminator = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (discriminator && options) {
        const given =
          issue.input !== null && typeof issue.input === 'object'
            ? (issue.input as Record<string, unknown>)[discriminator]
            : undefined;
        const choices = options.map((o) => JSON.stringify(o)).join(', ');
        return given === undefined
          ? `is required (one of ${choices})`
          : `must be one of ${choices}, got ${describeValue(given)}`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
