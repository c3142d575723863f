/**
 * Phase `retire` (opened by the switch-clients gate): the old members leave, highest ordinal
 * first, each removal followed by the scale-down that stops its pod; when m >= n the last
 * learner is promoted and the remaining new members join on the way. See the strategy in
 * membership-steps.ts.
 */
import type { PlanBuilder } from '../plan-builder.js';
import type { PlanMember } from '../plan-types.js';
import { names, type PlanContext } from './context.js';
import { addLearner, promote, verify } from './membership-steps.js';

export function planRetire(b: PlanBuilder, ctx: PlanContext): void {
  const { n, m, newMember, oldMember } = ctx;
  verify(b, 'retire', 'start');
  if (n === 1) {
    removeOld(b, oldMember(0));
    scaleSource(b, ctx, 0, [oldMember(0)]);
  } else if (m >= n) {
    promote(b, ctx, 'retire', newMember(n - 1), true); // even state (n, n) ...
    removeOld(b, oldMember(n - 1)); // ... left at once: new-side majority
    scaleSource(b, ctx, n - 1, [oldMember(n - 1)]);
    for (let j = n; j < m; j++) {
      addLearner(b, ctx, 'retire', newMember(j));
      promote(b, ctx, 'retire', newMember(j), false);
    }
    for (let i = n - 2; i >= 0; i--) {
      removeOld(b, oldMember(i));
      scaleSource(b, ctx, i, [oldMember(i)]);
    }
  } else {
    for (let i = n - 1; i >= 0; i--) {
      removeOld(b, oldMember(i));
      if (i === m) continue; // even state (m, m): the next removal follows at once
      // Pods stop one at a time (scaleSource refuses more): after the even state, two of them.
      if (i === m - 1) scaleSource(b, ctx, m, [oldMember(m)]);
      scaleSource(b, ctx, i, [oldMember(i)]);
    }
  }
  verify(b, 'retire', 'end');
}

function removeOld(b: PlanBuilder, member: PlanMember): void {
  b.add(
    'retire',
    member.name,
    { kind: 'remove-member', member: member.name, ...(member.id ? { memberId: member.id } : {}) },
    `remove ${member.name} from the cluster`,
  );
}

function scaleSource(b: PlanBuilder, ctx: PlanContext, replicas: number, stops: PlanMember[]): void {
  b.add(
    'retire',
    stops[stops.length - 1]?.name,
    { kind: 'scale-source', replicas, stops: stops.map((s) => s.name) },
    `scale ${ctx.spec.source.statefulSet} to ${replicas} (stops ${names(stops)}; PVCs kept)`,
  );
}
