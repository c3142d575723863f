/**
 * The `host-aliases` DNS strategy (target cluster only): the old members' names go into the
 * `hostAliases` of the target StatefulSet's pod template. No restart cost: the pods are new,
 * and the target's OnDelete update strategy never rolls a running pod for a template change.
 *
 * Before the StatefulSet exists there is nothing to patch: the entries are rendered into it
 * by scaleTarget (its `hostAliases` input), and this returns `deferred: true`. Once it exists,
 * the template is patched; pods created from then on get the entries (a running pod keeps the
 * /etc/hosts it started with, which is why the workflow configures DNS before the first pod).
 */
import { PatchStrategy, setHeaderOptions, type V1HostAlias } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { FIELD_MANAGER, sideOf, type KubeEnv } from './clients.js';
import { mergeHostEntries, type HostEntry } from './corefile-hosts.js';
import { readStatefulSetOptional } from './discover-source.js';
import { PreconditionFailed, kubeCall, opOn, retryOnConflict } from './errors.js';
import { isOurTarget } from './validate-target.js';

export interface HostAliasesResult {
  changed: boolean;
  /** The StatefulSet does not exist yet: scaleTarget renders the entries. */
  deferred: boolean;
  hostnames: string[];
  location: string;
}

function entriesOf(aliases: V1HostAlias[] | undefined): HostEntry[] {
  return (aliases ?? []).map((a) => ({ ip: a.ip, hostnames: [...(a.hostnames ?? [])] }));
}

async function editHostAliases(
  env: KubeEnv,
  spec: MigrationSpec,
  edit: (current: HostEntry[]) => HostEntry[],
): Promise<HostAliasesResult> {
  const target = sideOf(env, spec, 'target');
  const name = spec.target.statefulSet;
  const location = `hostAliases of StatefulSet ${target.namespace}/${name} (${target.context})`;
  return retryOnConflict(async () => {
    const sts = await readStatefulSetOptional(target, name);
    if (!sts) return { changed: false, deferred: true, hostnames: [], location };
    if (!isOurTarget(sts, spec)) {
      throw new PreconditionFailed(
        `StatefulSet ${target.namespace}/${name} was not created by this migration`,
      );
    }
    const current = entriesOf(sts.spec?.template?.spec?.hostAliases);
    const next = edit(current).filter((e) => e.hostnames.length > 0);
    const hostnames = next.flatMap((e) => e.hostnames);
    if (JSON.stringify(next) === JSON.stringify(current))
      return { changed: false, deferred: false, hostnames, location };
    const path = '/spec/template/spec/hostAliases';
    const ops: object[] = [
      { op: 'replace', path: '/metadata/resourceVersion', value: sts.metadata?.resourceVersion },
      next.length === 0
        ? { op: 'remove', path }
        : { op: current.length ? 'replace' : 'add', path, value: next },
    ];
    await kubeCall(opOn(target, 'patch', 'statefulsets.apps', name), () =>
      target.clients.apps.patchNamespacedStatefulSet(
        { name, namespace: target.namespace, body: ops, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    return { changed: true, deferred: false, hostnames, location };
  });
}

export function applyHostAliases(
  env: KubeEnv,
  spec: MigrationSpec,
  entries: HostEntry[],
): Promise<HostAliasesResult> {
  return editHostAliases(env, spec, (current) => mergeHostEntries(current, entries));
}

export function removeHostAliases(
  env: KubeEnv,
  spec: MigrationSpec,
  hostnames: string[],
): Promise<HostAliasesResult> {
  const drop = new Set(hostnames);
  return editHostAliases(env, spec, (current) =>
    current.map((e) => ({ ip: e.ip, hostnames: e.hostnames.filter((h) => !drop.has(h)) })),
  );
}
