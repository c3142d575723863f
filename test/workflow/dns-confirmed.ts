/**
 * core/dns-confirmation.ts as it will be once activities run on the worker of the cluster they
 * touch: DNS is confirmed. Bundled in its place by test/workflow/dns-confirmation.test.ts.
 */
import type { DnsStrategy, MigrationSpec } from '../../core/spec/schema.js';

export function confirmsDnsInCluster(spec: MigrationSpec): boolean {
  void spec;
  return true;
}

export function answeredByClusterDns(strategy: DnsStrategy): boolean {
  return strategy.strategy !== 'host-aliases';
}
