/**
 * The `coredns-hosts` DNS strategy: static entries in a block owned by this migration inside
 * the `hosts` plugin of the CoreDNS Corefile (default `kube-system/coredns`, key `Corefile`),
 * and, for load balancers that report a hostname, `rewrite name exact` lines in a block of its
 * own (corefile-entries.ts). Everything else in the Corefile stays byte for byte. CoreDNS's
 * `reload` plugin picks the change up; no pod restarts.
 *
 * Writes are a JSON merge patch of that one key carrying the resourceVersion read: a
 * concurrent change of the ConfigMap makes it fail with Conflict, and it is re-read and
 * re-edited (other writers' edits are never overwritten).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { DnsStrategy } from '../../core/spec/schema.js';
import { FIELD_MANAGER, type KubeSide } from './clients.js';
import { addMemberEntries, readMemberEntries, removeMemberEntries } from './corefile-entries.js';
import type { HostEntry } from './corefile-hosts.js';
import { PreconditionFailed, kubeCall, opOn, refusalsAsPreconditions, retryOnConflict } from './errors.js';

export type CorednsHostsStrategy = Extract<DnsStrategy, { strategy: 'coredns-hosts' }>;

export interface DnsChangeResult {
  changed: boolean;
  /** Host names of this migration present after the change. */
  hostnames: string[];
  /** Where (for the operator): e.g. `ConfigMap kube-system/coredns[Corefile]`. */
  location: string;
}

async function editCorefile(
  side: KubeSide,
  strategy: CorednsHostsStrategy,
  owner: string,
  edit: (corefile: string) => string,
): Promise<DnsChangeResult> {
  const { namespace, configMap, key } = strategy;
  const location = `ConfigMap ${namespace}/${configMap}[${key}] of ${side.context}`;
  return refusalsAsPreconditions(() =>
    retryOnConflict(async () => {
      const cm = await kubeCall(opOn(side, 'get', 'configmaps', configMap, namespace), () =>
        side.clients.core.readNamespacedConfigMap({ name: configMap, namespace }),
      );
      const before = cm.data?.[key];
      if (before === undefined) {
        throw new PreconditionFailed(`${location}: the ConfigMap has no key "${key}"`);
      }
      const after = edit(before);
      const hostnames = readMemberEntries(after, owner).flatMap((e) => e.hostnames);
      if (after === before) return { changed: false, hostnames, location };
      await kubeCall(opOn(side, 'patch', 'configmaps', configMap, namespace), () =>
        side.clients.core.patchNamespacedConfigMap(
          {
            name: configMap,
            namespace,
            body: { metadata: { resourceVersion: cm.metadata?.resourceVersion }, data: { [key]: after } },
            fieldManager: FIELD_MANAGER,
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
      return { changed: true, hostnames, location };
    }),
  );
}

export function applyCorednsHosts(
  side: KubeSide,
  strategy: CorednsHostsStrategy,
  owner: string,
  entries: HostEntry[],
): Promise<DnsChangeResult> {
  return editCorefile(side, strategy, owner, (corefile) => addMemberEntries(corefile, owner, entries));
}

export function removeCorednsHosts(
  side: KubeSide,
  strategy: CorednsHostsStrategy,
  owner: string,
  hostnames: string[] | 'all',
): Promise<DnsChangeResult> {
  return editCorefile(side, strategy, owner, (corefile) => removeMemberEntries(corefile, owner, hostnames));
}
