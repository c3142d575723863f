/**
 * JSON patch (RFC 6902) applied in memory, templates with `{{name}}`/`{{ip}}` placeholders,
 * and matching a template against data with some placeholders unbound. Pure.
 *
 * The `patch` DNS strategy uses these to send only the operations that change something
 * (so that an entry already present is not appended twice) and to find what to remove.
 */

export interface PatchOp {
  op: 'add' | 'remove' | 'replace' | 'copy' | 'move' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

export class JsonPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value ?? null)) as Json;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  return ak.length === Object.keys(bo).length && ak.every((k) => k in bo && deepEqual(ao[k], bo[k]));
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`${JSON.stringify(pointer)} is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function arrayIndex(arr: Json[], key: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new JsonPatchError(`"${key}" is not an array index`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length))
    throw new JsonPatchError(`array index ${i} out of range`);
  return i;
}

/** The value at `pointer`, or undefined when the path does not exist. */
export function getAt(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const key of parsePointer(pointer)) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) >= cur.length) return undefined;
      cur = cur[Number(key)];
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    } else return undefined;
  }
  return cur;
}

function parentOf(doc: Json, pointer: string): { parent: Json; key: string } {
  const keys = parsePointer(pointer);
  const key = keys.pop();
  if (key === undefined) throw new JsonPatchError('cannot operate on the document root');
  let cur: Json = doc;
  for (const k of keys) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, k, false)]!;
    else if (cur !== null && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, k))
      cur = cur[k]!;
    else throw new JsonPatchError(`path ${pointer} does not exist`);
  }
  if (cur === null || typeof cur !== 'object') throw new JsonPatchError(`path ${pointer} does not exist`);
  return { parent: cur, key };
}

function addAt(doc: Json, pointer: string, value: Json): void {
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else (parent as Record<string, Json>)[key] = value;
}

function removeAt(doc: Json, pointer: string): Json {
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0]!;
  const obj = parent as Record<string, Json>;
  if (!Object.prototype.hasOwnProperty.call(obj, key))
    throw new JsonPatchError(`path ${pointer} does not exist`);
  const old = obj[key]!;
  delete obj[key];
  return old;
}

/** Applies `ops` to a copy of `doc`; throws JsonPatchError when an operation cannot apply. */
export function applyJsonPatch(doc: unknown, ops: PatchOp[]): Json {
  const out = toJson(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        addAt(out, op.path, toJson(op.value));
        break;
      case 'remove':
        removeAt(out, op.path);
        break;
      case 'replace':
        removeAt(out, op.path);
        addAt(out, op.path, toJson(op.value));
        break;
      case 'move': {
        const v = removeAt(out, op.from ?? '');
        addAt(out, op.path, v);
        break;
      }
      case 'copy':
        if (getAt(out, op.from ?? '') === undefined)
          throw new JsonPatchError(`path ${op.from} does not exist`);
        addAt(out, op.path, toJson(getAt(out, op.from ?? '')));
        break;
      case 'test':
        if (!deepEqual(getAt(out, op.path), toJson(op.value)))
          throw new JsonPatchError(`test of ${op.path} failed`);
        break;
    }
  }
  return out;
}

export interface TemplateVars {
  name: string;
  ip?: string;
}

function fillString(text: string, vars: TemplateVars, inPath: boolean): string {
  return text.replace(/\{\{(name|ip)\}\}/g, (m, key: 'name' | 'ip') => {
    const v = vars[key];
    if (v === undefined) return m;
    return inPath ? escapePointerSegment(v) : v;
  });
}

function fillValue(value: unknown, vars: TemplateVars): unknown {
  if (typeof value === 'string') return fillString(value, vars, false);
  if (Array.isArray(value)) return value.map((v) => fillValue(v, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [fillString(k, vars, false), fillValue(v, vars)]),
    );
  }
  return value;
}

/** The template's operations for one entry; placeholders without a value are left in place. */
export function fillTemplate(ops: PatchOp[], vars: TemplateVars): PatchOp[] {
  return ops.map((op) => ({
    op: op.op,
    path: fillString(op.path, vars, true),
    ...(op.from !== undefined ? { from: fillString(op.from, vars, true) } : {}),
    ...(op.value !== undefined ? { value: fillValue(op.value, vars) } : {}),
  }));
}

export function hasPlaceholder(op: PatchOp): boolean {
  return /\{\{(name|ip)\}\}/.test(op.path + (op.from ?? '') + JSON.stringify(op.value ?? null));
}

/**
 * Does `actual` match `template`, where placeholders left in the template's strings match
 * anything? Returns the values they matched (e.g. `{ ip: '10.0.0.1' }`), or undefined.
 */
export function matchTemplate(actual: unknown, template: unknown): Record<string, string> | undefined {
  const bound: Record<string, string> = {};
  const go = (a: unknown, t: unknown): boolean => {
    if (typeof t === 'string') {
      if (typeof a !== 'string') return false;
      const names: string[] = [];
      const re = new RegExp(
        `^${t
          .split(/(\{\{(?:name|ip)\}\})/)
          .map((part) => {
            const m = /^\{\{(name|ip)\}\}$/.exec(part);
            if (m) {
              names.push(m[1]!);
              return '(.+?)';
            }
            return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          })
          .join('')}$`,
      );
      const m = re.exec(a);
      if (!m) return false;
      for (let i = 0; i < names.length; i++) {
        const v = m[i + 1]!;
        const key = names[i]!;
        if (bound[key] !== undefined && bound[key] !== v) return false;
        bound[key] = v;
      }
      return true;
    }
    if (Array.isArray(t)) return Array.isArray(a) && a.length === t.length && t.every((x, i) => go(a[i], x));
    if (t !== null && typeof t === 'object') {
      if (a === null || typeof a !== 'object' || Array.isArray(a)) return false;
      const tk = Object.keys(t);
      const ao = a as Record<string, unknown>;
      return (
        tk.length === Object.keys(ao).length && tk.every((k) => go(ao[k], (t as Record<string, unknown>)[k]))
      );
    }
    return deepEqual(a, t);
  };
  return go(actual, template) ? bound : undefined;
}
