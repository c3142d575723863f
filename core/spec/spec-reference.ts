/**
 * The spec reference, `docs/spec.md`: a Markdown table per section of the spec (field path, type,
 * required, default, description), rendered from the JSON Schema (`json-schema.ts`) and so from
 * the zod schema's descriptions. `scripts/spec-reference.ts` writes it (`npm run spec:docs`); a
 * unit test checks that the committed file is current. Pure.
 */
import { migrationSpecJsonSchema } from './json-schema.js';
import { DURATION_PATTERN } from './schema.js';

export const SPEC_REFERENCE_PATH = 'docs/spec.md';

/** The part of JSON Schema that `z.toJSONSchema` writes for the spec. */
export interface JsonSchemaNode {
  description?: string;
  type?: string;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaNode;
  items?: JsonSchemaNode;
  oneOf?: JsonSchemaNode[];
  anyOf?: JsonSchemaNode[];
  $ref?: string;
}

export interface SpecField {
  /** Dotted path, `[]` for the items of a list, e.g. `dns.sourceCluster.ops[].path`. */
  path: string;
  /** The `strategy` (or other discriminator) value this field belongs to, inside a union. */
  variant?: string;
  schema: JsonSchemaNode;
  required: boolean;
}

/** Every field under `node`, depth first, in schema order. */
export function specFields(node: JsonSchemaNode, path = '', variant?: string): SpecField[] {
  const fields: SpecField[] = [];
  for (const [name, schema] of Object.entries(node.properties ?? {})) {
    const fieldPath = path === '' ? name : `${path}.${name}`;
    const required = node.required?.includes(name) ?? false;
    fields.push({ path: fieldPath, schema, required, ...(variant === undefined ? {} : { variant }) });
    fields.push(...nestedFields(schema, fieldPath, variant));
  }
  return fields;
}

function nestedFields(schema: JsonSchemaNode, path: string, variant: string | undefined): SpecField[] {
  if (schema.properties) return specFields(schema, path, variant);
  const options = unionOptions(schema);
  if (options.length > 0) {
    const key = discriminator(options);
    return options.flatMap((option, index) =>
      specFields(option, path, key ? String(option.properties![key]!.const) : `option ${index + 1}`),
    );
  }
  if (schema.items) return nestedFields(schema.items, `${path}[]`, variant);
  return [];
}

function unionOptions(schema: JsonSchemaNode): JsonSchemaNode[] {
  return (schema.oneOf ?? schema.anyOf ?? []).filter((option) => option.properties !== undefined);
}

/** The property that is a constant in every option (e.g. `strategy`), if there is one. */
function discriminator(options: JsonSchemaNode[]): string | undefined {
  const first = Object.keys(options[0]?.properties ?? {});
  return first.find((key) => options.every((o) => o.properties?.[key]?.const !== undefined));
}

const code = (text: string) => `\`${text}\``;

function literal(value: unknown): string {
  return code(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A short type for the table: `duration`, `integer, 1 to 7`, `list of strings`, `map of string to string`. */
export function typeOf(schema: JsonSchemaNode): string {
  if (schema.const !== undefined) return literal(schema.const);
  if (schema.enum) return choices(schema.enum.map(literal));
  if (schema.$ref) return 'any JSON';
  const options = unionOptions(schema);
  if (options.length > 0) {
    const key = discriminator(options);
    if (!key) return 'object, one of several forms';
    return `object, by ${code(key)}: ${choices(options.map((o) => literal(o.properties![key]!.const)))}`;
  }
  switch (schema.type) {
    case 'string':
      return schema.pattern === DURATION_PATTERN ? 'duration' : 'string';
    case 'integer':
    case 'number':
      return `${schema.type}${range(schema)}`;
    case 'array': {
      const item = schema.items ? typeOf(schema.items) : 'any';
      return /^[a-z]+$/.test(item) ? `list of ${item}s` : `list of (${item})`;
    }
    case 'object':
      if (!schema.properties && typeof schema.additionalProperties === 'object') {
        return `map of string to ${typeOf(schema.additionalProperties)}`;
      }
      return 'object';
    default:
      return schema.type ?? 'any';
  }
}

/** `a`, `a or b`, `a, b or c`. */
function choices(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function range({ minimum, maximum }: JsonSchemaNode): string {
  const hasMax = maximum !== undefined && maximum < Number.MAX_SAFE_INTEGER;
  if (minimum !== undefined && hasMax) return `, ${minimum} to ${maximum}`;
  if (minimum !== undefined) return `, at least ${minimum}`;
  if (hasMax) return `, at most ${maximum}`;
  return '';
}

/** The default as written in a spec; none for an object whose fields bring their own. */
function defaultOf(schema: JsonSchemaNode): string {
  const value = schema.default;
  if (value === undefined) return '';
  const emptyObject = typeof value === 'object' && value !== null && Object.keys(value).length === 0;
  if (emptyObject && (schema.properties || unionOptions(schema).length > 0)) return '';
  return literal(value);
}

/** Markdown text for a table cell: `|` escaped, and `<` and `>` outside code spans (else they are HTML). */
export function cell(text: string): string {
  return text
    .split('`')
    .map((part, index) => (index % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\|/g, '\\|');
}

function row(field: SpecField, name = code(field.path)): string {
  const where = field.variant === undefined ? '' : ` (${code(field.variant)})`;
  const cells = [
    `${name}${where}`,
    cell(typeOf(field.schema)),
    field.required ? 'yes' : '',
    cell(defaultOf(field.schema)),
    cell(field.schema.description ?? ''),
  ];
  return `| ${cells.join(' | ')} |`;
}

const TABLE_HEAD = ['| field | type | required | default | description |', '| --- | --- | --- | --- | --- |'];

function isSection(schema: JsonSchemaNode): boolean {
  return schema.properties !== undefined || unionOptions(schema).length > 0;
}

/** The reference as Markdown (not yet formatted: the writer and the test run Prettier over it). */
export function specReferenceMarkdown(root: JsonSchemaNode = migrationSpecJsonSchema()): string {
  const top = Object.entries(root.properties ?? {});
  const lines = [
    '# Migration spec reference',
    '',
    '<!-- Generated from core/spec/schema.ts by `npm run spec:docs`: edit the descriptions there, not here. -->',
    '',
    'Every field of a migration spec (`kind: EtcdMigration`, `version: 1`), section by section.',
    '',
    'Examples: [`examples/migration-spec.yaml`](../examples/migration-spec.yaml) (the local sandbox) and [`examples/real-clusters.yaml`](../examples/real-clusters.yaml) (two clouds, a worker in each, TLS, manual gates). Check a spec with `npx etcd-stretch plan <spec> --offline`; editors validate it against [`schema/migration-spec.schema.json`](../schema/migration-spec.schema.json).',
    '',
    'How to read the tables: **required** means required whenever the section or object around it is given; a field without a default and not required may be left out (its description says what happens then). A default in the table is filled in when the field is left out. A duration is a number with a unit, `ms`, `s`, `m`, `h` or `d`, several combined as in `1h30m`. Unknown fields are refused everywhere, and so is anything that looks like a certificate or key: the spec is stored in Temporal history, so it holds Secret references only. A field marked with a `strategy` value applies only with that strategy.',
    '',
    '## Top level',
    '',
    ...TABLE_HEAD,
    ...top.map(([name, schema]) => {
      const field = { path: name, schema, required: root.required?.includes(name) ?? false };
      return row(field, isSection(schema) ? `[${code(name)}](#${name})` : code(name));
    }),
  ];
  for (const [name, schema] of top) {
    if (!isSection(schema)) continue;
    lines.push('', `## ${name}`, '', cell(schema.description ?? ''), '', ...TABLE_HEAD);
    for (const field of nestedFields(schema, name, undefined)) lines.push(row(field));
  }
  return `${lines.join('\n')}\n`;
}
