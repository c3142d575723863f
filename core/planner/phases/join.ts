/**
 * Phase `join`: new members join as learners and are promoted while the old side keeps a strict
 * majority; when m >= n, `<target>-(n-1)` joins but stays a learner until retire. See the
 * strategy in membership-steps.ts.
 */
import type { PlanBuilder } from '../plan-builder.js';
import type { PlanContext } from './context.js';
import { addLearner, promote, verify } from './membership-steps.js';

export function planJoin(b: PlanBuilder, ctx: PlanContext): void {
  const { n, m, newMember } = ctx;
  if (n === 1) {
    // Single-member source: see the strategy note. With m = 1 the promotion waits for the leader phase.
    for (let j = 0; j < m; j++) {
      addLearner(b, ctx, 'join', newMember(j));
      if (m > 1) promote(b, ctx, 'join', newMember(j), false);
    }
  } else {
    const joinVoters = m < n ? m : n - 1;
    for (let j = 0; j < joinVoters; j++) {
      addLearner(b, ctx, 'join', newMember(j));
      promote(b, ctx, 'join', newMember(j), false);
    }
    // Stays a learner until retire; the proof of its link, which its promote needs, is taken now.
    if (m >= n) addLearner(b, ctx, 'join', newMember(n - 1), { proveLink: true });
  }
  verify(b, 'join', 'end');
}
