/**
 * Reads a migration spec file (YAML or JSON; JSON is YAML) and validates it with the pure
 * `parseMigrationSpec`. The only I/O around the spec: everything else is pure.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { MigrationSpec } from '../core/spec/schema.js';
import { formatSpecErrors, parseMigrationSpec, type ParseSpecResult } from '../core/spec/validate.js';

/** Parses spec text; YAML syntax errors come back as errors with the line and column. */
export function parseMigrationSpecText(text: string): ParseSpecResult {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((error) => {
        const position = error.linePos?.[0];
        const where = position ? `line ${position.line}, column ${position.col}: ` : '';
        const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', message: `${where}not valid YAML/JSON: ${message}` };
      }),
    };
  }
  return parseMigrationSpec(document.toJS({ maxAliasCount: 100 }));
}

/** Reads and validates a spec file. */
export async function readMigrationSpecFile(path: string): Promise<ParseSpecResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ path: '', message: `cannot read ${path}: ${(error as Error).message}` }] };
  }
  return parseMigrationSpecText(text);
}

/** Reads and validates a spec file; throws an Error listing every problem (for the CLI). */
export async function loadMigrationSpecFile(path: string): Promise<MigrationSpec> {
  const result = await readMigrationSpecFile(path);
  if (!result.ok) throw new Error(formatSpecErrors(result.errors, path));
  return result.spec;
}
