/**
 * A name the migration is about to publish through a cluster's CoreDNS `hosts` plugin (or
 * `rewrite` lines) must not already be there: two etcd clusters with the same member names (same
 * StatefulSet names in another namespace, or a finished earlier migration whose entries were
 * kept) would resolve each other's peers, and members with equal IDs would tell each other they
 * were removed. Another exact `rewrite` of the name counts too: it runs before `hosts`.
 */
import { isIP } from 'node:net';
import { kubeGetOptional, opOn } from '../kubernetes/errors.js';
import { sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { beginMarker, endMarker } from '../kubernetes/corefile-hosts.js';
import { foreignRewrites } from '../kubernetes/corefile-rewrites.js';
import { dnsOwner } from '../kubernetes/labels.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';

/** `IP names...` lines of every hosts block, except the lines of `owner`'s own block. */
export function foreignHostEntries(corefile: string, owner: string): Map<string, string> {
  const names = new Map<string, string>();
  let ours = false;
  for (const raw of corefile.split('\n')) {
    const line = raw.trim();
    if (line === beginMarker(owner)) ours = true;
    else if (line === endMarker(owner)) ours = false;
    if (ours) continue;
    const [first, ...rest] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (first && isIP(first)) for (const n of rest) names.set(n.replace(/\.$/, ''), first);
  }
  return names;
}

/** Each of `sides` checks its own cluster's DNS for the other side's member names. */
export async function dnsCollisions(
  env: KubeEnv,
  spec: MigrationSpec,
  sourceReplicas: number,
  sides: readonly Side[] = ['source', 'target'],
): Promise<string[]> {
  const checks: { side: Side; names: string[] }[] = [];
  const targetReplicas = spec.target.replicas ?? sourceReplicas;
  const names = (sts: string, svc: string, n: number) =>
    Array.from({ length: n }, (_, i) => [`${sts}-${i}`, `${sts}-${i}.${svc}`]).flat();
  checks.push({ side: 'source', names: names(spec.target.statefulSet, spec.target.service, targetReplicas) });
  checks.push({ side: 'target', names: names(spec.source.statefulSet, spec.source.service, sourceReplicas) });
  const refusals: string[] = [];
  for (const { side, names: wanted } of checks.filter((c) => sides.includes(c.side))) {
    const strategy = side === 'source' ? spec.dns.sourceCluster : spec.dns.targetCluster;
    if (strategy.strategy !== 'coredns-hosts') continue;
    const s = sideOf(env, spec, side);
    const cm = await kubeGetOptional(
      opOn(s, 'get', 'configmaps', strategy.configMap, strategy.namespace),
      () =>
        s.clients.core.readNamespacedConfigMap({ name: strategy.configMap, namespace: strategy.namespace }),
    );
    const corefile = cm?.data?.[strategy.key];
    if (!corefile) continue;
    const foreign = foreignHostEntries(corefile, dnsOwner(spec));
    const rewritten = foreignRewrites(corefile, dnsOwner(spec));
    for (const n of wanted) {
      const ip = foreign.get(n) ?? rewritten.get(n);
      if (ip) {
        refusals.push(
          `the ${side} cluster's DNS (${strategy.namespace}/${strategy.configMap}) already maps ${n} to ${ip}, not through this migration: ` +
            `another etcd with the same member names would talk to this one; remove that entry or choose other StatefulSet names`,
        );
      }
    }
  }
  return refusals;
}
