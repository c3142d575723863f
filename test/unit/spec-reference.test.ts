/**
 * The spec reference: every field of the spec schema is described, and docs/spec.md is what the
 * generator makes of those descriptions now.
 */
import { readFile } from 'node:fs/promises';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { migrationSpecJsonSchema } from '../../core/spec/json-schema.js';
import { SPEC_REFERENCE_PATH, specFields, specReferenceMarkdown } from '../../core/spec/spec-reference.js';

/**
 * Paths of the properties without a description anywhere in a JSON Schema. Walks every object
 * and array of the document, not only what the reference renders, so no nesting hides a field.
 */
function undescribedFields(node: unknown, path = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((item, index) => undescribedFields(item, `${path}[${index}]`));
  if (node === null || typeof node !== 'object') return [];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value !== null && typeof value === 'object') {
      for (const [name, field] of Object.entries(value as Record<string, unknown>)) {
        const fieldPath = path === '' ? name : `${path}.${name}`;
        const description = (field as { description?: unknown }).description;
        if (typeof description !== 'string' || description.trim() === '') missing.push(fieldPath);
        missing.push(...undescribedFields(field, fieldPath));
      }
    } else {
      missing.push(...undescribedFields(value, key === 'items' ? `${path}[]` : path));
    }
  }
  return missing;
}

async function formatted(markdown: string): Promise<string> {
  const options = (await prettier.resolveConfig(SPEC_REFERENCE_PATH)) ?? {};
  return prettier.format(markdown, { ...options, filepath: SPEC_REFERENCE_PATH });
}

describe('spec reference', () => {
  it('finds an undescribed field however deep it is nested', () => {
    const schema = {
      properties: {
        described: { description: 'yes', type: 'string' },
        blank: { description: ' ', type: 'string' },
        list: {
          description: 'a list',
          items: { properties: { inItem: { type: 'string' } } },
        },
        union: {
          description: 'by kind',
          oneOf: [{ properties: { kind: { const: 'a', description: 'a' }, inOption: { type: 'number' } } }],
        },
      },
    };
    expect(undescribedFields(schema)).toEqual(['blank', 'list[].inItem', 'union[0].inOption']);
  });

  it('every field of the spec schema has a description', () => {
    expect(undescribedFields(migrationSpecJsonSchema()), 'fields without .describe() in core/spec/').toEqual(
      [],
    );
  });

  it('the reference has a row for every field, descriptions included', () => {
    const markdown = specReferenceMarkdown();
    const fields = specFields(migrationSpecJsonSchema());
    expect(fields.length).toBeGreaterThan(100);
    for (const field of fields.filter((f) => f.path.includes('.'))) {
      const firstWords = field.schema.description!.split(' ').slice(0, 4).join(' ');
      const rows = markdown
        .split('\n')
        .filter((line) => line.startsWith(`| \`${field.path}\``))
        .map((line) => line.replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
      expect(
        rows.some((line) => line.includes(firstWords)),
        field.path,
      ).toBe(true);
    }
    expect(markdown).toContain('| `deadlines.step` | duration |  | `10m` |');
    expect(markdown).toContain('| `target.replicas` | integer, 1 to 7 |');
    expect(markdown).toContain('| `source.context` | string | yes |');
  });

  // Prettier over the whole reference takes seconds on a busy machine: more than the default 5 s.
  it(`the committed ${SPEC_REFERENCE_PATH} is current`, { timeout: 60_000 }, async () => {
    const committed = await readFile(new URL(`../../${SPEC_REFERENCE_PATH}`, import.meta.url), 'utf8');
    expect(committed, `${SPEC_REFERENCE_PATH} is stale: run npm run spec:docs`).toBe(
      await formatted(specReferenceMarkdown()),
    );
  });
});
