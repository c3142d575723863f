/**
 * Writes docs/spec.md, the spec reference, from the zod schema's descriptions (run:
 * `npm run spec:docs`, which writes the JSON Schema first). Formatted with the project's Prettier
 * settings so `prettier --check` stays clean.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { SPEC_REFERENCE_PATH, specReferenceMarkdown } from '../core/spec/spec-reference.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const file = resolve(root, SPEC_REFERENCE_PATH);
const options = (await prettier.resolveConfig(file)) ?? {};
await writeFile(file, await prettier.format(specReferenceMarkdown(), { ...options, filepath: file }));
console.log(`wrote ${SPEC_REFERENCE_PATH}`);
