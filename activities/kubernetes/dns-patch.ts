/**
 * The `patch` DNS strategy: a JSON-patch template applied to a named object, for platforms
 * with their own DNS settings. The article's platform (Deckhouse) keeps static hosts in the
 * `kube-dns` module configuration:
 *
 *   dns:
 *     sourceCluster:
 *       strategy: patch
 *       object: { apiVersion: deckhouse.io/v1alpha1, kind: ModuleConfig, name: kube-dns }
 *       ops:
 *         - { op: add, path: /spec/settings/hosts/-, value: { domain: "{{name}}", ip: "{{ip}}" } }
 *
 * Addresses are IPs: dns.ts refuses a load balancer known by a DNS name before anything is
 * read (`{{ip}}` would receive a name; `coredns-hosts` rewrites names to names instead).
 *
 * The template is applied once per host name (`{{name}}`) and IP (`{{ip}}`), against the
 * object as read, and only the operations that change something are sent (with the
 * resourceVersion read: a concurrent change is a Conflict, re-read and retried):
 * - an `add` to the end of an array (`.../-`) is skipped when an equal element is there; an
 *   element for the same name with another IP is removed first (the name moves);
 * - any other operation is sent when it changes the object.
 *
 * Removal uses `cleanupOps` when the spec gives them (operations whose path no longer exists
 * are skipped); otherwise it inverts `ops`: elements of the array matching the template for
 * that name (any IP) are removed, and values written at a path are removed.
 */
import type { DnsStrategy } from '../../core/spec/schema.js';
import type { KubeSide } from './clients.js';
import type { DnsChangeResult } from './dns-coredns-hosts.js';
import { kubeCall, opOn, refusalsAsPreconditions, retryOnConflict } from './errors.js';
import {
  JsonPatchError,
  applyJsonPatch,
  deepEqual,
  fillTemplate,
  getAt,
  hasPlaceholder,
  matchTemplate,
  toJson,
  type PatchOp,
} from './json-patch.js';
import type { HostEntry } from './corefile-hosts.js';

export type PatchDnsStrategy = Extract<DnsStrategy, { strategy: 'patch' }>;

function describe(strategy: PatchDnsStrategy, side: KubeSide): string {
  const o = strategy.object;
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} (${o.apiVersion}) of ${side.context}`;
}

async function patchObject(
  side: KubeSide,
  strategy: PatchDnsStrategy,
  compute: (doc: unknown) => PatchOp[],
): Promise<boolean> {
  const ref = strategy.object;
  const ns = ref.namespace ?? null;
  return refusalsAsPreconditions(() =>
    retryOnConflict(async () => {
      const raw = await kubeCall(opOn(side, 'get', ref.kind, ref.name, ns), () =>
        side.clients.objects.readRaw(ref),
      );
      const doc = toJson(raw);
      const ops = compute(doc);
      if (ops.length === 0) return false;
      const rv = getAt(doc, '/metadata/resourceVersion');
      const guarded: PatchOp[] = [
        ...(typeof rv === 'string'
          ? [{ op: 'replace' as const, path: '/metadata/resourceVersion', value: rv }]
          : []),
        ...ops,
      ];
      await kubeCall(opOn(side, 'patch', ref.kind, ref.name, ns), () =>
        side.clients.objects.jsonPatch(ref, guarded),
      );
      return true;
    }),
  );
}

/** Operations that add `entries` to `doc` (only those that change it). Pure. */
export function opsToAdd(doc: unknown, template: PatchOp[], entries: HostEntry[]): PatchOp[] {
  let current = toJson(doc);
  const out: PatchOp[] = [];
  const step = (op: PatchOp) => {
    current = applyJsonPatch(current, [op]);
    out.push(op);
  };
  for (const entry of entries) {
    for (const name of new Set(entry.hostnames)) {
      const filled = fillTemplate(template, { name, ip: entry.ip });
      filled.forEach((op, i) => {
        if (op.op === 'add' && op.path.endsWith('/-')) {
          const arrayPath = op.path.slice(0, -2);
          const arr = getAt(current, arrayPath);
          if (Array.isArray(arr)) {
            if (arr.some((x) => deepEqual(x, toJson(op.value)))) return;
            const anyIp = fillTemplate([template[i]!], { name })[0]!.value;
            for (let j = arr.length - 1; j >= 0; j--) {
              const m = matchTemplate(arr[j], anyIp);
              if (m && m.ip !== undefined && m.ip !== entry.ip)
                step({ op: 'remove', path: `${arrayPath}/${j}` });
            }
          }
          step(op);
          return;
        }
        const next = applyJsonPatch(current, [op]);
        if (!deepEqual(next, current)) {
          current = next;
          out.push(op);
        }
      });
    }
  }
  return out;
}

/** Operations that remove `hostnames` from `doc`, from `cleanupOps` or by inverting `ops`. Pure. */
export function opsToRemove(
  doc: unknown,
  strategy: { ops: PatchOp[]; cleanupOps?: PatchOp[] | undefined },
  hostnames: string[],
): PatchOp[] {
  let current = toJson(doc);
  const out: PatchOp[] = [];
  const tryStep = (op: PatchOp): void => {
    try {
      const next = applyJsonPatch(current, [op]);
      if (!deepEqual(next, current)) {
        current = next;
        out.push(op);
      }
    } catch (err) {
      if (!(err instanceof JsonPatchError)) throw err;
      // already gone (path missing) or a test that no longer holds: nothing to remove
    }
  };
  for (const name of new Set(hostnames)) {
    if (strategy.cleanupOps) {
      let ops = fillTemplate(strategy.cleanupOps, { name });
      if (ops.some(hasPlaceholder)) {
        const ip = ipOf(current, strategy.ops, name);
        if (ip === undefined) continue; // the entry is not there
        ops = fillTemplate(strategy.cleanupOps, { name, ip });
      }
      for (const op of ops) tryStep(op);
      continue;
    }
    for (const op of fillTemplate(strategy.ops, { name })) {
      if (op.op === 'add' && op.path.endsWith('/-')) {
        const arrayPath = op.path.slice(0, -2);
        const arr = getAt(current, arrayPath);
        if (!Array.isArray(arr)) continue;
        for (let j = arr.length - 1; j >= 0; j--) {
          if (matchTemplate(arr[j], op.value)) tryStep({ op: 'remove', path: `${arrayPath}/${j}` });
        }
      } else if ((op.op === 'add' || op.op === 'replace') && !hasPlaceholder({ op: op.op, path: op.path })) {
        const there = getAt(current, op.path);
        if (there !== undefined && (op.value === undefined || matchTemplate(there, op.value))) {
          tryStep({ op: 'remove', path: op.path });
        }
      }
    }
  }
  return out;
}

/** The IP the object holds for `name`, by matching the add template against it. */
function ipOf(doc: unknown, template: PatchOp[], name: string): string | undefined {
  for (const op of fillTemplate(template, { name })) {
    if (op.op === 'add' && op.path.endsWith('/-')) {
      const arr = getAt(doc, op.path.slice(0, -2));
      if (!Array.isArray(arr)) continue;
      for (const x of arr) {
        const m = matchTemplate(x, op.value);
        if (m?.ip) return m.ip;
      }
    } else if (op.op === 'add' || op.op === 'replace') {
      if (hasPlaceholder({ op: op.op, path: op.path })) continue;
      const m = matchTemplate(getAt(doc, op.path), op.value);
      if (m?.ip) return m.ip;
    }
  }
  return undefined;
}

export async function applyPatchEntries(
  side: KubeSide,
  strategy: PatchDnsStrategy,
  entries: HostEntry[],
): Promise<DnsChangeResult> {
  const changed = await patchObject(side, strategy, (doc) => opsToAdd(doc, strategy.ops, entries));
  return { changed, hostnames: entries.flatMap((e) => e.hostnames), location: describe(strategy, side) };
}

export async function removePatchEntries(
  side: KubeSide,
  strategy: PatchDnsStrategy,
  hostnames: string[],
): Promise<DnsChangeResult> {
  const changed = await patchObject(side, strategy, (doc) => opsToRemove(doc, strategy, hostnames));
  return { changed, hostnames: [], location: describe(strategy, side) };
}
