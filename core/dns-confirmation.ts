/**
 * Whether the run confirms, after configuring a cluster's DNS, that the cluster answers the
 * member names as configured (activity `awaitDnsResolution`). Only a worker that resolves
 * names through that cluster's DNS can tell (a pod of that cluster: per-cluster workers); a
 * single worker outside both clusters would check its own resolver, which proves nothing. And
 * only entries that live in the cluster's DNS can be seen there: `host-aliases` entries are in
 * the new pods' /etc/hosts, which no other pod reads.
 */
import type { DnsStrategy, MigrationSpec } from './spec/schema.js';

/**
 * The worker that configures a cluster's DNS resolves names through that cluster's DNS: with
 * `workers.mode: per-cluster` every DNS activity runs on the worker of the cluster it changes.
 */
export function confirmsDnsInCluster(spec: MigrationSpec): boolean {
  return spec.workers.mode === 'per-cluster';
}

/** The strategy's entries are answered by the cluster's DNS service (not per pod). */
export function answeredByClusterDns(strategy: DnsStrategy): boolean {
  return strategy.strategy !== 'host-aliases';
}
