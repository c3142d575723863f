/**
 * Phase `dns` (two clusters only): each cluster resolves the other side's member names to their
 * load-balancer IPs.
 */
import type { DnsStrategy } from '../../spec/schema.js';
import { dnsEntries } from '../members.js';
import { names, type PlanContext } from './context.js';
import type { PlanBuilder } from '../plan-builder.js';

export function planDns(b: PlanBuilder, { spec, oldMembers, newMembers, oneNamespace }: PlanContext): void {
  if (oneNamespace) return;
  const { source, target } = spec;
  // Each cluster's DNS is its own: both are changed, and their answers awaited, at the same time
  // (a DNS change can take tens of seconds to show).
  b.together('dns/configure', () => {
    b.add(
      'dns',
      'source',
      {
        kind: 'configure-dns',
        cluster: 'source',
        strategy: spec.dns.sourceCluster,
        entries: dnsEntries(newMembers, target.service),
      },
      `${source.context}: resolve ${names(newMembers)} to their load balancers (${strategyLabel(spec.dns.sourceCluster)})`,
    );
    b.add(
      'dns',
      'target',
      {
        kind: 'configure-dns',
        cluster: 'target',
        strategy: spec.dns.targetCluster,
        entries: dnsEntries(oldMembers, source.service),
      },
      `${target.context}: resolve ${names(oldMembers)} to their load balancers (${strategyLabel(spec.dns.targetCluster)})`,
    );
  });
}

export function strategyLabel(strategy: DnsStrategy): string {
  switch (strategy.strategy) {
    case 'coredns-hosts':
      return `CoreDNS hosts block in ${strategy.namespace}/${strategy.configMap}`;
    case 'host-aliases':
      return 'hostAliases of the new StatefulSet';
    case 'patch':
      return `JSON patch of ${strategy.object.kind} ${strategy.object.namespace ? `${strategy.object.namespace}/` : ''}${strategy.object.name}`;
  }
}
