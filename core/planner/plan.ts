/**
 * The pure planner: spec + observed membership -> the exact ordered steps of a migration.
 * No I/O; shared by the workflow (it executes the steps) and the CLI (`plan`, the dry run).
 *
 * One function per phase, in phases/<phase>.ts, called in the order of PHASES; PlanBuilder
 * (plan-builder.ts) puts each phase's gate in front of its first step and records the membership
 * after every step. Why join, leader and retire change the membership in the order they do: the
 * strategy in phases/membership-steps.ts.
 */
import { targetClientURL } from './members.js';
import { PlanBuilder } from './plan-builder.js';
import type { MigrationPlan, PlanInput } from './plan-types.js';
import { planCleanup } from './phases/cleanup.js';
import { planContext } from './phases/context.js';
import { planDns } from './phases/dns.js';
import { planExpose } from './phases/expose.js';
import { planFinalize } from './phases/finalize.js';
import { planJoin } from './phases/join.js';
import { planLeader } from './phases/leader.js';
import { planPreflight } from './phases/preflight.js';
import { planRetire } from './phases/retire.js';
import { planShrink } from './phases/shrink.js';
import { faultTolerance } from './quorum.js';
import { planWarnings } from './warnings.js';

export { PlanError, assumedSourceMembers } from './members.js';

/** Throws PlanError when the observed members or the target size make a safe plan impossible. */
export function planMigration(input: PlanInput): MigrationPlan {
  const ctx = planContext(input);
  const { spec, oldMembers, newMembers, n, m } = ctx;
  const b = new PlanBuilder(spec, oldMembers, newMembers);

  planPreflight(b, ctx);
  planShrink(b, ctx);
  planExpose(b, ctx);
  planDns(b, ctx);
  planJoin(b, ctx);
  planLeader(b, ctx);
  planRetire(b, ctx);
  planFinalize(b, ctx);
  planCleanup(b, ctx);

  return {
    phases: b.phases(),
    steps: b.steps,
    warnings: planWarnings(ctx),
    requiredFaultTolerance: Math.min(faultTolerance(n), faultTolerance(m)),
    source: { members: oldMembers, faultTolerance: faultTolerance(n) },
    target: {
      members: newMembers,
      faultTolerance: faultTolerance(m),
      clientURLs: newMembers.map((x) => targetClientURL(spec, x.name)),
    },
  };
}
