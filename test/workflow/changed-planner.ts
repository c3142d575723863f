/**
 * A planner that a newer worker might bring: the same plan without the shrink phase. Bundled in
 * place of core/planner/plan.ts by the replay test of a run whose plan is in its history.
 */
import type { MigrationPlan, PlanInput } from '../../core/planner/plan-types.js';
import { planMigration as currentPlanner } from '../../core/planner/plan.js';

export function planMigration(input: PlanInput): MigrationPlan {
  const plan = currentPlanner(input);
  const steps = plan.steps.filter((s) => s.phase !== 'shrink');
  return { ...plan, steps, phases: plan.phases.filter((p) => p !== 'shrink') };
}
