/**
 * Edits `rewrite name exact <member name> <load-balancer hostname>` lines of the CoreDNS
 * `rewrite` plugin in a Corefile, inside a block owned by etcd-stretch, keeping every other byte
 * as it was. Pure. This is how a cluster resolves the other cluster's member names when that
 * cloud gives load balancers a DNS name instead of an IP (AWS: `status.loadBalancer.ingress[].hostname`):
 * CoreDNS asks its next plugins (kubernetes, hosts, forward) for the load balancer's name and
 * answers with its addresses under the member's name.
 *
 * Why this form, and what it needs (CoreDNS rewrite plugin, checked against its README):
 * - `rewrite` runs before `hosts`, `kubernetes` and `forward` whatever the line order in the
 *   server block (CoreDNS orders plugins by its build's plugin.cfg), so a member name inside
 *   `cluster.local` is rewritten before the kubernetes plugin could answer NXDOMAIN for it.
 * - For an `exact` rule CoreDNS rewrites the answer's owner name back to the question's (the
 *   README: "answers for rewrites of type exact are always rewritten"), so glibc, which drops
 *   A records whose name differs from the one asked, accepts the answer. `answer auto` would
 *   say the same for other match types but only exists since CoreDNS 1.8.4, and before that a
 *   fifth argument makes the whole Corefile fail to load: it is left out on purpose.
 * - Rules apply in Corefile order and the first match stops (`stop` is the default): our
 *   block goes first in the root server block (`.:53 {`), before any rewrite of the operator's.
 *
 * Our lines sit between `# etcd-stretch rewrites begin <owner>` and `# etcd-stretch rewrites end
 * <owner>`, one block per migration (owner). Adding what is already there returns the Corefile
 * unchanged (same string); removing the last line removes the block.
 */
import {
  CorefileError,
  DEFAULT_PLUGIN_INDENT,
  analyse,
  checkOwner,
  eolOf,
  isCorefileHostname,
  rootServerBlock,
  type LineInfo,
} from './corefile-hosts.js';

/** One member name and the load-balancer hostname it resolves as. */
export interface NameRewrite {
  name: string;
  to: string;
}

export function rewritesBeginMarker(owner: string): string {
  return `# etcd-stretch rewrites begin ${owner} (managed by etcd-stretch: do not edit)`;
}
export function rewritesEndMarker(owner: string): string {
  return `# etcd-stretch rewrites end ${owner}`;
}

function checkRewrites(rewrites: NameRewrite[]): void {
  for (const r of rewrites) {
    for (const [what, value] of [
      ['host name', r.name],
      ['load-balancer host name', r.to],
    ] as const) {
      if (!isCorefileHostname(value)) {
        throw new CorefileError(
          `${JSON.stringify(value)} is not a valid ${what} for the CoreDNS rewrite plugin`,
        );
      }
    }
  }
}

function findOurs(info: LineInfo[], root: { open: number; close: number }, owner: string) {
  const begin = `# etcd-stretch rewrites begin ${owner}`;
  const end = rewritesEndMarker(owner);
  for (let i = root.open + 1; i < root.close; i++) {
    const t = info[i]!.trimmed;
    if (t === begin || t.startsWith(`${begin} `)) {
      for (let j = i + 1; j < root.close; j++) if (info[j]!.trimmed === end) return { begin: i, end: j };
      throw new CorefileError(`the etcd-stretch rewrites of ${owner} have no end marker`);
    }
  }
  return undefined;
}

function rewritesBetween(info: LineInfo[], from: number, to: number): NameRewrite[] {
  const out: NameRewrite[] = [];
  for (let i = from; i < to; i++) {
    const [plugin, field, match, name, target] = info[i]!.tokens;
    if (plugin === 'rewrite' && field === 'name' && match === 'exact' && name && target)
      out.push({ name, to: target });
  }
  return out;
}

function blockLines(indent: string, owner: string, rewrites: NameRewrite[], eol: string): string[] {
  return [
    `${indent}${rewritesBeginMarker(owner)}${eol}`,
    ...rewrites.map((r) => `${indent}rewrite name exact ${r.name} ${r.to}${eol}`),
    `${indent}${rewritesEndMarker(owner)}${eol}`,
  ];
}

/** A name already there keeps its line (its target updated in place); new names come last. */
function merge(existing: NameRewrite[], add: NameRewrite[]): NameRewrite[] {
  const out = existing.map((r) => ({ ...r }));
  for (const r of add) {
    const there = out.find((x) => x.name === r.name);
    if (there) there.to = r.to;
    else out.push({ name: r.name, to: r.to });
  }
  return out;
}

/** The owner's rewrites, in Corefile order. */
export function readRewrites(corefile: string, owner: string): NameRewrite[] {
  checkOwner(owner);
  const { info, root } = rootServerBlock(corefile.split('\n'));
  const ours = findOurs(info, root, owner);
  return ours ? rewritesBetween(info, ours.begin + 1, ours.end) : [];
}

/** Adds (or points at a new load balancer) rewrites in the owner's block. Idempotent. */
export function addRewrites(corefile: string, owner: string, rewrites: NameRewrite[]): string {
  checkOwner(owner);
  checkRewrites(rewrites);
  const lines = corefile.split('\n');
  const { info, root } = rootServerBlock(lines);
  const eol = eolOf(corefile);
  const ours = findOurs(info, root, owner);
  const existing = ours ? rewritesBetween(info, ours.begin + 1, ours.end) : [];
  const merged = merge(existing, rewrites);
  if (JSON.stringify(merged) === JSON.stringify(existing)) return corefile;
  if (ours) {
    lines.splice(
      ours.begin,
      ours.end - ours.begin + 1,
      ...blockLines(info[ours.begin]!.indent, owner, merged, eol),
    );
    return lines.join('\n');
  }
  const firstPlugin = info.slice(root.open + 1, root.close).find((l) => l.tokens.length > 0);
  const indent = firstPlugin?.indent ?? DEFAULT_PLUGIN_INDENT;
  lines.splice(root.open + 1, 0, ...blockLines(indent, owner, merged, eol));
  return lines.join('\n');
}

/** Removes the rewrites of `names` from the owner's block; the block goes with its last line. Idempotent. */
export function removeRewrites(corefile: string, owner: string, names: string[] | 'all'): string {
  checkOwner(owner);
  const lines = corefile.split('\n');
  const { info, root } = rootServerBlock(lines);
  const ours = findOurs(info, root, owner);
  if (!ours) return corefile;
  const existing = rewritesBetween(info, ours.begin + 1, ours.end);
  const remaining = names === 'all' ? [] : existing.filter((r) => !names.includes(r.name));
  if (remaining.length === existing.length && names !== 'all') return corefile;
  const replacement = remaining.length
    ? blockLines(info[ours.begin]!.indent, owner, remaining, eolOf(corefile))
    : [];
  lines.splice(ours.begin, ours.end - ours.begin + 1, ...replacement);
  return lines.join('\n');
}

/**
 * Exact name rewrites anywhere in the Corefile except the owner's block: name -> the name it is
 * rewritten to (lowercase, no trailing dot). One-line rules (`rewrite [continue|stop] name
 * [exact] FROM TO ...`) and `name` lines of a `rewrite {` block; other match types are not
 * followed. `rewrite` runs before `hosts`, so such a rule would win over our entries.
 */
export function foreignRewrites(corefile: string, owner: string): Map<string, string> {
  checkOwner(owner);
  const info = analyse(corefile.split('\n'));
  const begin = `# etcd-stretch rewrites begin ${owner}`;
  const end = rewritesEndMarker(owner);
  const out = new Map<string, string>();
  const norm = (n: string) => n.toLowerCase().replace(/\.$/, '');
  let ours = false;
  let ruleBlockDepth = -1;
  for (const l of info) {
    if (l.trimmed === begin || l.trimmed.startsWith(`${begin} `)) ours = true;
    else if (l.trimmed === end) ours = false;
    if (ruleBlockDepth >= 0 && l.depthBefore <= ruleBlockDepth) ruleBlockDepth = -1;
    let rule: string[] | undefined;
    if (l.tokens[0] === 'rewrite') {
      if (l.tokens[l.tokens.length - 1] === '{') ruleBlockDepth = l.depthBefore;
      rule = l.tokens.slice(1);
      if (rule[0] === 'continue' || rule[0] === 'stop') rule = rule.slice(1);
    } else if (ruleBlockDepth >= 0 && l.depthBefore === ruleBlockDepth + 1) {
      rule = l.tokens;
    }
    if (ours || !rule || rule[0] !== 'name') continue;
    const args = rule.slice(1).filter((t) => t !== '{');
    const [from, to] = args[0] === 'exact' ? args.slice(1) : args.length === 2 ? args : [];
    if (from && to) out.set(norm(from), norm(to));
  }
  return out;
}
