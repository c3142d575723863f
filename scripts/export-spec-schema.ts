/**
 * Writes schema/migration-spec.schema.json from the zod schema (run: npx tsx scripts/export-spec-schema.ts).
 * Formatted with the project's Prettier settings so `prettier --check` stays clean.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { MIGRATION_SPEC_SCHEMA_PATH, migrationSpecJsonSchema } from '../core/spec/json-schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const file = resolve(root, MIGRATION_SPEC_SCHEMA_PATH);
const options = (await prettier.resolveConfig(file)) ?? {};
const text = await prettier.format(JSON.stringify(migrationSpecJsonSchema()), { ...options, filepath: file });
await mkdir(dirname(file), { recursive: true });
await writeFile(file, text);
console.log(`wrote ${MIGRATION_SPEC_SCHEMA_PATH}`);
