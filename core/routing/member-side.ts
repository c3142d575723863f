/** Which cluster a member belongs to, by its name: a pod of the source's or the target's StatefulSet. */
import type { Side } from '../planner/plan-types.js';
import type { MigrationSpec } from '../spec/schema.js';

export function sideOfMember(spec: MigrationSpec, name: string): Side | 'unknown' {
  const ordinalOf = (sts: string) =>
    new RegExp(`^${sts.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`).test(name);
  if (ordinalOf(spec.target.statefulSet)) return 'target';
  if (ordinalOf(spec.source.statefulSet)) return 'source';
  return 'unknown';
}

/** Whether two members run in different clusters (and so reach each other through load balancers). */
export function acrossTheLink(spec: MigrationSpec, a: string, b: string): boolean {
  const sideA = sideOfMember(spec, a);
  const sideB = sideOfMember(spec, b);
  return sideA !== 'unknown' && sideB !== 'unknown' && sideA !== sideB;
}
