/**
 * Edits static entries of the CoreDNS `hosts` plugin in a Corefile, inside a block owned by
 * etcd-stretch, keeping every other byte as it was. Pure.
 *
 * In the root server block (`.:53 { ... }`, or `. { ... }`):
 * - with a `hosts` plugin that has a block: our block goes first inside it (inline entries
 *   must precede `fallthrough`, CoreDNS refuses them after it);
 * - with a one-line `hosts [FILE]` plugin: it gets a block (marked, closed again with our last entry);
 * - without a `hosts` plugin (CoreDNS allows one per server block): we add one of our own,
 *   with `fallthrough` (so every other name still goes to the next plugin), and remove it
 *   with our last entry.
 *
 * Our entries sit between `# etcd-stretch begin <owner>` and `# etcd-stretch end <owner>`;
 * each migration (owner) has its own block, so two runs never touch each other's entries.
 * Adding what is already there returns the Corefile unchanged (same string).
 */
import { isIP } from 'node:net';

export interface HostEntry {
  ip: string;
  hostnames: string[];
}

export class CorefileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorefileError';
  }
}

export const OWNED_PLUGIN_MARKER =
  '# etcd-stretch: hosts plugin added by etcd-stretch (removed with its last entry)';
export const OPENED_BLOCK_SUFFIX =
  ' { # etcd-stretch: block opened by etcd-stretch (closed with its last entry)';
const INDENT_STEP = '   ';
export const DEFAULT_PLUGIN_INDENT = '    ';

export function beginMarker(owner: string): string {
  return `# etcd-stretch begin ${owner} (managed by etcd-stretch: do not edit)`;
}
export function endMarker(owner: string): string {
  return `# etcd-stretch end ${owner}`;
}

const OWNER = /^[A-Za-z0-9][A-Za-z0-9._/:-]*$/;
const HOSTNAME = /^[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function checkOwner(owner: string): void {
  if (!OWNER.test(owner)) throw new CorefileError(`invalid block owner ${JSON.stringify(owner)}`);
}

/** A name CoreDNS takes as one token (no quotes, braces or `#`), as the hosts and rewrite plugins need. */
export function isCorefileHostname(name: string): boolean {
  return HOSTNAME.test(name) && name.length <= 253;
}

function checkEntries(entries: HostEntry[]): void {
  for (const e of entries) {
    if (!isIP(e.ip)) throw new CorefileError(`${JSON.stringify(e.ip)} is not an IP address`);
    if (e.hostnames.length === 0) throw new CorefileError(`entry for ${e.ip} has no host names`);
    for (const h of e.hostnames) {
      if (!isCorefileHostname(h)) {
        throw new CorefileError(`${JSON.stringify(h)} is not a valid host name for the CoreDNS hosts plugin`);
      }
    }
  }
}

export interface LineInfo {
  tokens: string[];
  depthBefore: number;
  depthAfter: number;
  indent: string;
  /** The line without its indentation and a trailing \r. */
  trimmed: string;
}

/** Caddyfile tokens of one line: whitespace-separated, "quoted" strings, `#` comments dropped. */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#') break;
    let token = '';
    if (ch === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        token += line[i];
        i++;
      }
      i++;
      tokens.push(token);
      continue;
    }
    while (i < line.length && !/\s/.test(line[i]!)) token += line[i++];
    tokens.push(token);
  }
  return tokens;
}

export function analyse(lines: string[]): LineInfo[] {
  let depth = 0;
  return lines.map((raw) => {
    const text = raw.replace(/\r$/, '');
    const tokens = tokenize(text);
    const depthBefore = depth;
    for (const t of tokens) {
      if (t === '{') depth++;
      else if (t === '}') depth--;
    }
    if (depth < 0) throw new CorefileError('unbalanced braces in the Corefile (a "}" without "{")');
    return {
      tokens,
      depthBefore,
      depthAfter: depth,
      indent: /^[ \t]*/.exec(text)![0],
      trimmed: text.trim(),
    };
  });
}

/** Index of the line at which the block opened at `open` closes. */
export function closeOf(info: LineInfo[], open: number): number {
  const depth = info[open]!.depthBefore;
  for (let i = open + 1; i < info.length; i++) if (info[i]!.depthAfter <= depth) return i;
  throw new CorefileError('unbalanced braces in the Corefile (a "{" without "}")');
}

function isRootKey(key: string): boolean {
  return /^(dns:\/\/)?\.(:\d+)?$/.test(key);
}

/** Lines where a block opens (`... {`) and closes (`}`). */
export interface BlockSpan {
  open: number;
  close: number;
}

interface Layout {
  info: LineInfo[];
  root: BlockSpan;
  plugin?: { header: number; close?: number; indent: string };
}

/** The lines of a Corefile, analysed, and where its root server block opens and closes. */
export function rootServerBlock(lines: string[]): { info: LineInfo[]; root: BlockSpan } {
  const info = analyse(lines);
  if (info.length && info[info.length - 1]!.depthAfter !== 0) {
    throw new CorefileError('unbalanced braces in the Corefile (a "{" without "}")');
  }
  for (let i = 0; i < info.length; i++) {
    const l = info[i]!;
    if (l.depthBefore === 0 && l.tokens.length >= 2 && l.tokens[l.tokens.length - 1] === '{') {
      if (l.tokens.slice(0, -1).some(isRootKey)) return { info, root: { open: i, close: closeOf(info, i) } };
    }
  }
  throw new CorefileError('the Corefile has no root server block (".:53 {" or ". {")');
}

function layout(lines: string[]): Layout {
  const { info, root } = rootServerBlock(lines);
  for (let i = root.open + 1; i < root.close; i++) {
    const l = info[i]!;
    if (l.depthBefore === 1 && l.tokens[0] === 'hosts') {
      const opens = l.tokens[l.tokens.length - 1] === '{';
      return {
        info,
        root,
        plugin: { header: i, indent: l.indent, ...(opens ? { close: closeOf(info, i) } : {}) },
      };
    }
  }
  return { info, root };
}

function findOurs(lay: Layout, owner: string): { begin: number; end: number } | undefined {
  const p = lay.plugin;
  if (!p || p.close === undefined) return undefined;
  const begin = `# etcd-stretch begin ${owner}`;
  const end = endMarker(owner);
  for (let i = p.header + 1; i < p.close; i++) {
    const t = lay.info[i]!.trimmed;
    if (t === begin || t.startsWith(`${begin} `)) {
      for (let j = i + 1; j < p.close; j++) if (lay.info[j]!.trimmed === end) return { begin: i, end: j };
      throw new CorefileError(`the etcd-stretch block of ${owner} has no end marker`);
    }
  }
  return undefined;
}

function entriesBetween(info: LineInfo[], from: number, to: number): HostEntry[] {
  const entries: HostEntry[] = [];
  for (let i = from; i < to; i++) {
    const [ip, ...hostnames] = info[i]!.tokens;
    if (ip && hostnames.length) entries.push({ ip, hostnames });
  }
  return entries;
}

/**
 * Adds entries to a list of `IP names...` lines, in place: a name already on the right IP
 * stays where it is, a name on another IP moves, a new name joins the line of its IP (or a
 * new line at the end). Adding what is there returns an equal list (same order).
 */
export function mergeHostEntries(existing: HostEntry[], add: HostEntry[]): HostEntry[] {
  const out = existing.map((e) => ({ ip: e.ip, hostnames: [...e.hostnames] }));
  for (const entry of add) {
    for (const h of new Set(entry.hostnames)) {
      const holder = out.find((e) => e.hostnames.includes(h));
      if (holder?.ip === entry.ip) continue;
      if (holder) holder.hostnames = holder.hostnames.filter((x) => x !== h);
      const same = out.find((e) => e.ip === entry.ip);
      if (same) same.hostnames.push(h);
      else out.push({ ip: entry.ip, hostnames: [h] });
    }
  }
  return out.filter((e) => e.hostnames.length > 0);
}

function blockLines(indent: string, owner: string, entries: HostEntry[], eol: string): string[] {
  return [
    `${indent}${beginMarker(owner)}${eol}`,
    ...entries.map((e) => `${indent}${e.ip} ${e.hostnames.join(' ')}${eol}`),
    `${indent}${endMarker(owner)}${eol}`,
  ];
}

export function eolOf(corefile: string): string {
  return corefile.includes('\r\n') ? '\r' : '';
}

/** Our entries (owner's block), in Corefile order. */
export function readHostsEntries(corefile: string, owner: string): HostEntry[] {
  checkOwner(owner);
  const lay = layout(corefile.split('\n'));
  const ours = findOurs(lay, owner);
  return ours ? entriesBetween(lay.info, ours.begin + 1, ours.end) : [];
}

/** Adds (or moves to a new IP) host names in the owner's block. Idempotent. */
export function addHostsEntries(corefile: string, owner: string, entries: HostEntry[]): string {
  checkOwner(owner);
  checkEntries(entries);
  const lines = corefile.split('\n');
  const lay = layout(lines);
  const eol = eolOf(corefile);
  const { info, root, plugin } = lay;
  if (!plugin) {
    const firstPlugin = info.slice(root.open + 1, root.close).find((l) => l.tokens.length > 0);
    const indent = firstPlugin?.indent ?? DEFAULT_PLUGIN_INDENT;
    const inner = indent + INDENT_STEP;
    const merged = mergeHostEntries([], entries);
    if (merged.length === 0) return corefile;
    lines.splice(
      root.open + 1,
      0,
      `${indent}${OWNED_PLUGIN_MARKER}${eol}`,
      `${indent}hosts {${eol}`,
      ...blockLines(inner, owner, merged, eol),
      `${inner}fallthrough${eol}`,
      `${indent}}${eol}`,
    );
    return lines.join('\n');
  }
  if (plugin.close === undefined) {
    const merged = mergeHostEntries([], entries);
    if (merged.length === 0) return corefile;
    const header = lines[plugin.header]!;
    const cr = header.endsWith('\r') ? '\r' : '';
    lines[plugin.header] = `${header.slice(0, header.length - cr.length)}${OPENED_BLOCK_SUFFIX}${cr}`;
    lines.splice(
      plugin.header + 1,
      0,
      ...blockLines(plugin.indent + INDENT_STEP, owner, merged, eol),
      `${plugin.indent}}${eol}`,
    );
    return lines.join('\n');
  }
  const ours = findOurs(lay, owner);
  if (ours) {
    const existing = entriesBetween(info, ours.begin + 1, ours.end);
    const merged = mergeHostEntries(existing, entries);
    if (JSON.stringify(merged) === JSON.stringify(existing)) return corefile;
    lines.splice(
      ours.begin,
      ours.end - ours.begin + 1,
      ...blockLines(info[ours.begin]!.indent, owner, merged, eol),
    );
    return lines.join('\n');
  }
  const merged = mergeHostEntries([], entries);
  if (merged.length === 0) return corefile;
  const firstInner = info.slice(plugin.header + 1, plugin.close).find((l) => l.trimmed.length > 0);
  const inner = firstInner?.indent ?? plugin.indent + INDENT_STEP;
  lines.splice(plugin.header + 1, 0, ...blockLines(inner, owner, merged, eol));
  return lines.join('\n');
}

/**
 * Removes host names from the owner's block; the block goes with its last entry, and so does
 * a hosts plugin (or block) etcd-stretch added. Idempotent.
 */
export function removeHostsEntries(corefile: string, owner: string, hostnames: string[] | 'all'): string {
  checkOwner(owner);
  const lines = corefile.split('\n');
  const lay = layout(lines);
  const ours = findOurs(lay, owner);
  if (!ours || !lay.plugin) return corefile;
  const eol = eolOf(corefile);
  const existing = entriesBetween(lay.info, ours.begin + 1, ours.end);
  const drop = new Set(hostnames === 'all' ? existing.flatMap((e) => e.hostnames) : hostnames);
  const remaining = existing
    .map((e) => ({ ip: e.ip, hostnames: e.hostnames.filter((h) => !drop.has(h)) }))
    .filter((e) => e.hostnames.length > 0);
  if (JSON.stringify(remaining) === JSON.stringify(existing)) return corefile;
  if (remaining.length > 0) {
    lines.splice(
      ours.begin,
      ours.end - ours.begin + 1,
      ...blockLines(lay.info[ours.begin]!.indent, owner, remaining, eol),
    );
    return lines.join('\n');
  }
  lines.splice(ours.begin, ours.end - ours.begin + 1);
  // The plugin (or its block) goes too when etcd-stretch made it and nothing else is left in it.
  const after = layout(lines);
  const p = after.plugin;
  if (!p || p.close === undefined) return lines.join('\n');
  const body = after.info.slice(p.header + 1, p.close).filter((l) => l.trimmed.length > 0);
  const markerLine = p.header - 1;
  const ownPlugin = markerLine >= 0 && after.info[markerLine]!.trimmed === OWNED_PLUGIN_MARKER;
  if (ownPlugin && body.every((l) => l.tokens.length === 1 && l.tokens[0] === 'fallthrough')) {
    lines.splice(markerLine, p.close - markerLine + 1);
    return lines.join('\n');
  }
  const header = lines[p.header]!;
  const cr = header.endsWith('\r') ? '\r' : '';
  const bare = header.slice(0, header.length - cr.length);
  if (bare.endsWith(OPENED_BLOCK_SUFFIX) && body.length === 0) {
    lines[p.header] = `${bare.slice(0, bare.length - OPENED_BLOCK_SUFFIX.length)}${cr}`;
    lines.splice(p.close, 1);
  }
  return lines.join('\n');
}
