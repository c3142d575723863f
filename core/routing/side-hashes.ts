/**
 * Per-cluster mode: the verify-consistency evidence is assembled in the workflow from each side's
 * hashKV, read by that side's own worker at one revision (`hashKvOnSide`), instead of one worker
 * hashing the other side's members through their load balancers.
 */
import type { Evidence, Side, SideHashKv } from '../activity-contract.js';
import type { MigrationSpec } from '../spec/schema.js';
import { sideOfMember } from './member-side.js';

export interface CombinedHashKv {
  hashKv: NonNullable<Evidence['hashKv']>;
  /** Members whose hash differs from the majority's, that could not be hashed, or that no side read. */
  mismatched: string[];
  summary: string;
}

/** `members` by the side they belong to; a member of neither side is in neither list. */
export function membersBySide(spec: MigrationSpec, members: readonly string[]): Record<Side, string[]> {
  return {
    source: members.filter((m) => sideOfMember(spec, m) === 'source'),
    target: members.filter((m) => sideOfMember(spec, m) === 'target'),
  };
}

/**
 * The readings of the sides as one hashKV: they agree when every member of `expected` has a hash,
 * at one revision, and all hashes are the same. The majority's hash is the reference (as in a
 * one-worker hashKV), so a lone diverging member is named rather than everyone else.
 */
export function combineSideHashes(
  readings: readonly SideHashKv[],
  expected: readonly string[],
): CombinedHashKv {
  const revision = readings[0]?.revision ?? 0;
  const hashes: Record<string, string> = {};
  const problems: string[] = [];
  const mismatched = new Set<string>();
  for (const r of readings) {
    if (r.revision !== revision) {
      for (const m of Object.keys(r.hashes)) mismatched.add(m);
      problems.push(`${r.side} read at revision ${r.revision}`);
      continue;
    }
    Object.assign(hashes, r.hashes);
    for (const [m, error] of Object.entries(r.errors ?? {})) {
      mismatched.add(m);
      problems.push(`${m}: ${error}`);
    }
  }
  const unread = expected.filter((m) => hashes[m] === undefined && !mismatched.has(m));
  for (const m of unread) {
    mismatched.add(m);
    problems.push(`${m}: no side read it`);
  }

  const counts = new Map<string, number>();
  for (const h of Object.values(hashes)) counts.set(h, (counts.get(h) ?? 0) + 1);
  const reference = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  for (const [m, h] of Object.entries(hashes)) if (h !== reference) mismatched.add(m);

  const agree = mismatched.size === 0 && Object.keys(hashes).length > 0;
  const bySide = readings
    .map(
      (r) =>
        `${r.side}: ${
          Object.entries(r.hashes)
            .map(([m, h]) => `${m}=${h}`)
            .join(', ') || 'none'
        }`,
    )
    .join('; ');
  const summary = agree
    ? `hashKV agrees at revision ${revision} on ${Object.keys(hashes).length} members, each read by its own side's worker (${bySide})`
    : `hashKV disagrees at revision ${revision}: MISMATCH on ${[...mismatched].join(', ')} (${bySide}${
        problems.length ? `; ${problems.join('; ')}` : ''
      })`;
  return { hashKv: { revision, agree, hashes }, mismatched: [...mismatched], summary };
}
