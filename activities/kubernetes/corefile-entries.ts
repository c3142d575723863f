/**
 * The Corefile edit of the `coredns-hosts` DNS strategy. An entry's address is a load
 * balancer's: an IP goes into the owner's `hosts` block (corefile-hosts.ts); a DNS name (a cloud
 * whose load balancers report a hostname) becomes `rewrite name exact` lines
 * (corefile-rewrites.ts). A name lives in one of the two only: `rewrite` runs before `hosts`, so
 * a stale rewrite would hide a newer hosts entry. Pure.
 */
import { isIP } from 'node:net';
import { addHostsEntries, readHostsEntries, removeHostsEntries, type HostEntry } from './corefile-hosts.js';
import { addRewrites, readRewrites, removeRewrites } from './corefile-rewrites.js';

/** Adds (or moves) the entries; idempotent. `ip` of an entry is its address: an IP or a host name. */
export function addMemberEntries(corefile: string, owner: string, entries: HostEntry[]): string {
  const byIp = entries.filter((e) => isIP(e.ip));
  const byName = entries.filter((e) => !isIP(e.ip));
  let out = removeRewrites(
    corefile,
    owner,
    byIp.flatMap((e) => e.hostnames),
  );
  out = addHostsEntries(out, owner, byIp);
  out = removeHostsEntries(
    out,
    owner,
    byName.flatMap((e) => e.hostnames),
  );
  return addRewrites(
    out,
    owner,
    byName.flatMap((e) => e.hostnames.map((name) => ({ name, to: e.ip }))),
  );
}

/** Removes the names from both; idempotent. */
export function removeMemberEntries(corefile: string, owner: string, hostnames: string[] | 'all'): string {
  return removeRewrites(removeHostsEntries(corefile, owner, hostnames), owner, hostnames);
}

/** The owner's entries: the hosts block's, then the rewrites' (grouped by load balancer). */
export function readMemberEntries(corefile: string, owner: string): HostEntry[] {
  const byName: HostEntry[] = [];
  for (const r of readRewrites(corefile, owner)) {
    const same = byName.find((e) => e.ip === r.to);
    if (same) same.hostnames.push(r.name);
    else byName.push({ ip: r.to, hostnames: [r.name] });
  }
  return [...readHostsEntries(corefile, owner), ...byName];
}
