/**
 * Phase `leader`: leadership moves to `<target>-0`. A single-member source with a single-member
 * target promotes it here first (see the strategy in membership-steps.ts).
 */
import type { PlanBuilder } from '../plan-builder.js';
import type { PlanContext } from './context.js';
import { promote } from './membership-steps.js';

export function planLeader(b: PlanBuilder, ctx: PlanContext): void {
  const { n, m, newMember } = ctx;
  if (n === 1 && m === 1) promote(b, ctx, 'leader', newMember(0), true);
  const leader = newMember(0);
  b.add('leader', undefined, { kind: 'move-leader', to: leader.name }, `move leadership to ${leader.name}`);
}
