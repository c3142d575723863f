/**
 * Cross-cluster DNS: make one cluster resolve the other cluster's member names to their
 * load-balancer addresses, by the strategy the spec chose for that cluster
 * (`coredns-hosts`, `host-aliases` (target only), `patch`). Every call is idempotent.
 *
 * An address is an IP or, where the cloud's load balancers report a hostname (AWS), a DNS name.
 * Only `coredns-hosts` can point a name at another name (rewrite lines); `host-aliases` and
 * `patch` write IPs, and refuse a hostname before they read or change anything.
 */
import { isIP } from 'node:net';
import type { DnsStrategy, MigrationSpec } from '../../core/spec/schema.js';
import type { Side } from '../../core/activity-contract.js';
import { sideOf, type KubeEnv } from './clients.js';
import type { HostEntry } from './corefile-hosts.js';
import { applyCorednsHosts, removeCorednsHosts } from './dns-coredns-hosts.js';
import { applyHostAliases, removeHostAliases } from './dns-host-aliases.js';
import { applyPatchEntries, removePatchEntries } from './dns-patch.js';
import { PreconditionFailed } from './errors.js';
import { dnsOwner } from './labels.js';

export interface DnsEntriesInput {
  spec: MigrationSpec;
  /** The cluster whose DNS view changes. */
  side: Side;
  strategy: DnsStrategy;
  entries: HostEntry[];
}

export interface RemoveDnsEntriesInput {
  spec: MigrationSpec;
  side: Side;
  strategy: DnsStrategy;
  /** Host names to remove; `all` removes every entry of this migration (coredns-hosts only). */
  hostnames: string[] | 'all';
}

export interface DnsResult {
  strategy: DnsStrategy['strategy'];
  changed: boolean;
  /** host-aliases before the target StatefulSet exists: scaleTarget renders the entries. */
  deferred: boolean;
  location: string;
  entries: number;
}

function refuseHostAliasesOnSource(side: Side): void {
  if (side === 'source') {
    throw new PreconditionFailed(
      "host-aliases cannot be used in the source cluster: changing the old StatefulSet's pod template would restart the old members",
    );
  }
}

const STRATEGY_FIELD: Record<Side, string> = { source: 'dns.sourceCluster', target: 'dns.targetCluster' };

/** host-aliases and patch write IPs: a load balancer known by a DNS name is refused, naming the fix. */
export function refuseHostnameAddresses(strategy: DnsStrategy, side: Side, entries: HostEntry[]): void {
  if (strategy.strategy === 'coredns-hosts') return;
  const named = entries.filter((e) => !isIP(e.ip));
  if (named.length === 0) return;
  const which = named.map((e) => `${e.hostnames[0] ?? '?'} (load balancer ${e.ip})`).join(', ');
  const writes =
    strategy.strategy === 'host-aliases'
      ? "a pod's hostAliases take IP addresses only"
      : 'the patch template writes an IP ({{ip}})';
  throw new PreconditionFailed(
    `the ${side} cluster cannot resolve member${named.length === 1 ? '' : 's'} ${which} by ${strategy.strategy}: ` +
      `the load balancer reports a DNS name, not an IP, and ${writes}. ` +
      `Use ${STRATEGY_FIELD[side]}.strategy: coredns-hosts for the ${side} cluster (it rewrites the member names to the load balancer's name). Nothing was changed.`,
    { details: { side, strategy: strategy.strategy, hostnameAddresses: named } },
  );
}

function dnsResult(
  strategy: DnsStrategy['strategy'],
  r: { changed: boolean; location: string; deferred?: boolean },
  entries: number,
): DnsResult {
  return { strategy, changed: r.changed, deferred: r.deferred ?? false, location: r.location, entries };
}

export async function applyDnsEntries(env: KubeEnv, input: DnsEntriesInput): Promise<DnsResult> {
  const { spec, side: sideName, strategy, entries } = input;
  const count = entries.reduce((n, e) => n + e.hostnames.length, 0);
  refuseHostnameAddresses(strategy, sideName, entries);
  switch (strategy.strategy) {
    case 'coredns-hosts': {
      const r = await applyCorednsHosts(sideOf(env, spec, sideName), strategy, dnsOwner(spec), entries);
      return dnsResult(strategy.strategy, r, count);
    }
    case 'host-aliases': {
      refuseHostAliasesOnSource(sideName);
      const r = await applyHostAliases(env, spec, entries);
      return dnsResult(strategy.strategy, r, count);
    }
    case 'patch': {
      const r = await applyPatchEntries(sideOf(env, spec, sideName), strategy, entries);
      return dnsResult(strategy.strategy, r, count);
    }
  }
}

export async function removeDnsEntries(env: KubeEnv, input: RemoveDnsEntriesInput): Promise<DnsResult> {
  const { spec, side: sideName, strategy, hostnames } = input;
  switch (strategy.strategy) {
    case 'coredns-hosts': {
      const r = await removeCorednsHosts(sideOf(env, spec, sideName), strategy, dnsOwner(spec), hostnames);
      return dnsResult(strategy.strategy, r, r.hostnames.length);
    }
    case 'host-aliases': {
      refuseHostAliasesOnSource(sideName);
      if (hostnames === 'all') throw new PreconditionFailed('host-aliases: name the host names to remove');
      const r = await removeHostAliases(env, spec, hostnames);
      return dnsResult(strategy.strategy, r, r.hostnames.length);
    }
    case 'patch': {
      if (hostnames === 'all') throw new PreconditionFailed('patch: name the host names to remove');
      const r = await removePatchEntries(sideOf(env, spec, sideName), strategy, hostnames);
      return dnsResult(strategy.strategy, r, 0);
    }
  }
}
