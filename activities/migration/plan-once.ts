/**
 * The plan is made once, in the preflight activity, from the observations it reports: the plan
 * lands in the history, so replaying a run never depends on the planner of the worker replaying it.
 */
import type { PreflightReport } from '../../core/activity-contract.js';
import { planMigration } from '../../core/planner/plan.js';
import type { MigrationSpec } from '../../core/spec/schema.js';

export function withPlan(spec: MigrationSpec, report: PreflightReport): PreflightReport {
  if (report.refusals.length > 0) return report;
  try {
    return { ...report, plan: planMigration({ spec, observed: report.observed }) };
  } catch (err) {
    return { ...report, planError: err instanceof Error ? err.message : String(err) };
  }
}
