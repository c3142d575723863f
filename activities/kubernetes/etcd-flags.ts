/**
 * Reads and rewrites the etcd configuration of a container, wherever it is written:
 *
 * - `args`/`command` tokens: `--flag=value`, `-flag=value`, or `--flag` followed by `value`;
 * - a shell script inside `command`/`args` (the article's `sh -c '... etcd --flag ...'`);
 * - `ETCD_*` environment variables (`ETCD_INITIAL_CLUSTER`, ...).
 *
 * A setting is changed where it is written. A setting written nowhere is added as an `ETCD_*`
 * environment variable: etcd >= 3.5 refuses to start when a setting is given both as a flag
 * and as an environment variable, so a flag is never duplicated into the environment or
 * the other way round.
 *
 * Pure: no I/O.
 */
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';

export type FlagLocation = 'command' | 'args' | 'script' | 'env';

export interface FoundFlag {
  where: FlagLocation;
  value: string;
}

/** The settings the migration reads or rewrites. */
export const ETCD_SETTINGS = [
  'name',
  'initial-cluster',
  'initial-cluster-state',
  'initial-cluster-token',
  'initial-advertise-peer-urls',
  'advertise-client-urls',
  'listen-peer-urls',
  'listen-client-urls',
  'data-dir',
  'config-file',
  'discovery',
  'discovery-srv',
] as const;
export type EtcdSetting = (typeof ETCD_SETTINGS)[number];

export function envNameOf(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Is this `command`/`args` element a shell script (or any text with several words)? */
function isScript(element: string): boolean {
  return /\s/.test(element.trim());
}

// In a script: the flag preceded by start/space/quote, then "=" or blanks (with optional line
// continuations), then a value: "double quoted", 'single quoted' or a run of non-blank characters.
function scriptFlagRegExp(flag: string): RegExp {
  return new RegExp(
    `(^|[\\s;(])(--?${escapeRegExp(flag)})(=|(?:[ \\t]|\\\\\\r?\\n)+)("[^"]*"|'[^']*'|[^\\s;'"]+)`,
    'g',
  );
}

// In a script: a boolean flag, bare or with `=value` (a boolean flag takes no value after a blank).
function scriptBooleanRegExp(flag: string): RegExp {
  return new RegExp(
    `(^|[\\s;("'])(--?${escapeRegExp(flag)})(?:=("[^"]*"|'[^']*'|[^\\s;'"]+))?(?=$|[\\s;)"'\\\\])`,
    'g',
  );
}

function unquote(value: string): { quote: string; inner: string } {
  const q = value[0];
  if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
    return { quote: q, inner: value.slice(1, -1) };
  }
  return { quote: '', inner: value };
}

function tokenFlag(token: string, flag: string): { inline: string | undefined } | undefined {
  for (const dashes of ['--', '-']) {
    const name = `${dashes}${flag}`;
    if (token === name) return { inline: undefined };
    if (token.startsWith(`${name}=`)) return { inline: token.slice(name.length + 1) };
  }
  return undefined;
}

/** Every place `flag` is set in the container (normally one). */
export function findFlag(container: V1Container, flag: string): FoundFlag[] {
  const found: FoundFlag[] = [];
  for (const where of ['command', 'args'] as const) {
    const list = container[where] ?? [];
    list.forEach((element, i) => {
      if (isScript(element)) {
        for (const m of element.matchAll(scriptFlagRegExp(flag))) {
          found.push({ where: 'script', value: unquote(m[4] ?? '').inner });
        }
        return;
      }
      const hit = tokenFlag(element, flag);
      if (!hit) return;
      const value = hit.inline ?? list[i + 1];
      if (value !== undefined) found.push({ where, value });
    });
  }
  const env = (container.env ?? []).find((e) => e.name === envNameOf(flag));
  if (env && env.value !== undefined) found.push({ where: 'env', value: env.value });
  return found;
}

/** The effective value (a flag wins over the environment), or undefined. */
export function flagValue(container: V1Container, flag: string): string | undefined {
  const found = findFlag(container, flag);
  return (found.find((f) => f.where !== 'env') ?? found[0])?.value;
}

/** Go's `strconv.ParseBool`, as etcd reads a boolean flag's value. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

export interface BooleanFlag {
  where: FlagLocation;
  /** As written: '' for a bare `--flag`. */
  text: string;
  /** undefined when the text is not a boolean etcd reads (`$PRE_VOTE`, resolved elsewhere). */
  value: boolean | undefined;
}

/**
 * The effective setting of a boolean flag (`--pre-vote`, `--pre-vote=false`, `ETCD_PRE_VOTE`),
 * or undefined when it is set nowhere. A bare flag takes no value (`--pre-vote false` is not
 * `false` for etcd), the last flag given wins, and a flag wins over the environment.
 */
export function booleanFlag(container: V1Container, flag: string): BooleanFlag | undefined {
  const given: BooleanFlag[] = [];
  const add = (where: FlagLocation, text: string | undefined) =>
    given.push({ where, text: text ?? '', value: text === undefined ? true : parseGoBool(text) });
  for (const where of ['command', 'args'] as const) {
    for (const element of container[where] ?? []) {
      if (isScript(element)) {
        for (const m of element.matchAll(scriptBooleanRegExp(flag)))
          add('script', m[3] === undefined ? undefined : unquote(m[3]).inner);
        continue;
      }
      const hit = tokenFlag(element, flag);
      if (hit) add(where, hit.inline);
    }
  }
  const last = given.at(-1);
  if (last) return last;
  const env = (container.env ?? []).find((e) => e.name === envNameOf(flag));
  if (env?.value === undefined) return undefined;
  return { where: 'env', text: env.value, value: parseGoBool(env.value) };
}

export function readEtcdSettings(container: V1Container): Partial<Record<EtcdSetting, FoundFlag>> {
  const out: Partial<Record<EtcdSetting, FoundFlag>> = {};
  for (const s of ETCD_SETTINGS) {
    const found = findFlag(container, s);
    const best = found.find((f) => f.where !== 'env') ?? found[0];
    if (best) out[s] = best;
  }
  return out;
}

function mapList(
  list: string[] | undefined,
  flag: string,
  edit: (value: string) => string,
): { list: string[] | undefined; where: FlagLocation[] } {
  if (!list) return { list, where: [] };
  const where: FlagLocation[] = [];
  const out = [...list];
  for (let i = 0; i < out.length; i++) {
    const element = out[i]!;
    if (isScript(element)) {
      const re = scriptFlagRegExp(flag);
      if (re.test(element)) {
        where.push('script');
        out[i] = element.replace(
          scriptFlagRegExp(flag),
          (_m, pre: string, name: string, sep: string, v: string) => {
            const { quote, inner } = unquote(v);
            return `${pre}${name}${sep}${quote}${edit(inner)}${quote}`;
          },
        );
      }
      continue;
    }
    const hit = tokenFlag(element, flag);
    if (!hit) continue;
    if (hit.inline !== undefined) {
      out[i] = `${element.slice(0, element.length - hit.inline.length)}${edit(hit.inline)}`;
      where.push('args');
    } else if (i + 1 < out.length) {
      out[i + 1] = edit(out[i + 1]!);
      where.push('args');
      i++;
    }
  }
  return { list: out, where };
}

/**
 * Applies `edit` to the value of `flag` wherever it is written; when it is written nowhere
 * and `addIfMissing` is given, adds `ETCD_<FLAG>=addIfMissing`. Returns the new container.
 */
export function editFlag(
  container: V1Container,
  flag: string,
  edit: (value: string) => string,
  addIfMissing?: string,
): { container: V1Container; where: FlagLocation[] } {
  const command = mapList(container.command, flag, edit);
  const args = mapList(container.args, flag, edit);
  const where: FlagLocation[] = [
    ...command.where.map((w): FlagLocation => (w === 'args' ? 'command' : w)),
    ...args.where,
  ];
  const next: V1Container = { ...container };
  if (command.list) next.command = command.list;
  if (args.list) next.args = args.list;
  const envName = envNameOf(flag);
  const env = container.env ?? [];
  const envIndex = env.findIndex((e) => e.name === envName);
  if (envIndex >= 0 && env[envIndex]!.value !== undefined) {
    const updated: V1EnvVar[] = [...env];
    updated[envIndex] = { ...env[envIndex]!, value: edit(env[envIndex]!.value) };
    next.env = updated;
    where.push('env');
  } else if (where.length === 0 && addIfMissing !== undefined) {
    // A variable set from a ConfigMap or Secret is replaced in place, never given a second entry.
    next.env =
      envIndex >= 0
        ? env.map((e, i) => (i === envIndex ? { name: envName, value: addIfMissing } : e))
        : [...env, { name: envName, value: addIfMissing }];
    where.push('env');
  }
  return { container: next, where };
}

/**
 * Sets the boolean `flag` to `value` wherever it is written, or adds `ETCD_<FLAG>` when it is
 * written nowhere. A bare `--flag` stays bare when `value` is true and becomes `--flag=false`
 * otherwise; `--flag=x` becomes `--flag=<value>`. Never `--flag <value>`: etcd's boolean flags
 * take no separate value (the word would be a stray argument, which etcd refuses), and the
 * word after a bare flag is the next flag, not its value.
 */
export function setBooleanFlag(
  container: V1Container,
  flag: string,
  value: boolean,
): { container: V1Container; where: FlagLocation[] } {
  const where: FlagLocation[] = [];
  const written = (bare: boolean, name: string): string =>
    bare && value ? name : `${name}=${String(value)}`;
  const next: V1Container = { ...container };
  for (const list of ['command', 'args'] as const) {
    if (!container[list]) continue;
    next[list] = container[list].map((element) => {
      if (isScript(element)) {
        if (!scriptBooleanRegExp(flag).test(element)) return element;
        where.push('script');
        return element.replace(
          scriptBooleanRegExp(flag),
          (_m, pre: string, name: string, inline: string | undefined) =>
            `${pre}${written(inline === undefined, name)}`,
        );
      }
      const hit = tokenFlag(element, flag);
      if (!hit) return element;
      where.push(list);
      const name = element.slice(0, element.indexOf(flag) + flag.length);
      return written(hit.inline === undefined, name);
    });
  }
  const envName = envNameOf(flag);
  const env = container.env ?? [];
  const envIndex = env.findIndex((e) => e.name === envName);
  if (envIndex >= 0 || where.length === 0) {
    const entry: V1EnvVar = { name: envName, value: String(value) };
    next.env = envIndex >= 0 ? env.map((e, i) => (i === envIndex ? entry : e)) : [...env, entry];
    where.push('env');
  }
  return { container: next, where };
}

/** Sets `flag` to `value` wherever it is written, or adds it as an environment variable. */
export function setFlag(
  container: V1Container,
  flag: string,
  value: string,
): { container: V1Container; where: FlagLocation[] } {
  return editFlag(container, flag, () => value, value);
}

export interface HostRename {
  fromService: string;
  toService: string;
  fromNamespace: string;
  toNamespace: string;
}

/**
 * In a comma-separated URL list, `scheme://<x>.<fromService>[.<fromNamespace>.svc...]:port`
 * becomes `scheme://<x>.<toService>[.<toNamespace>.svc...]:port`. Anything else is kept.
 */
export function renameUrlHosts(value: string, rename: HostRename): string {
  return value
    .split(',')
    .map((url) => {
      const m = /^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)([^:/\s]+)(.*)$/s.exec(url);
      if (!m) return url;
      const [, scheme, host, rest] = m;
      const labels = host!.split('.');
      if (labels.length >= 2 && labels[1] === rename.fromService) {
        labels[1] = rename.toService;
        if (labels.length >= 4 && labels[2] === rename.fromNamespace && labels[3] === 'svc') {
          labels[2] = rename.toNamespace;
        }
      }
      return `${scheme}${labels.join('.')}${rest}`;
    })
    .join(',');
}

/** Does a URL list advertise every URL under `<x>.<service>`? */
export function urlsUnderService(value: string, service: string): boolean {
  const urls = value.split(',').map((u) => u.trim());
  return (
    urls.length > 0 &&
    urls.every((url) => {
      const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^:/\s]+)/.exec(url);
      const labels = m?.[1]?.split('.') ?? [];
      return labels.length >= 2 && labels[1] === service;
    })
  );
}

/** Is this container the etcd server? (Its command or args run `etcd`, or its image is an etcd image.) */
export function runsEtcd(container: V1Container): boolean {
  const text = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
  return /(^|[\s/;&|(])etcd(\s|$)/m.test(text) || /(^|\/)etcd[:@]/.test(container.image ?? '');
}
