/** Text rendering of a plan for the CLI's dry run (`plan <spec>`). Pure. */
import type { MigrationPlan, PlanStep } from './plan-types.js';

export const PLAN_TABLE_HEADERS = [
  '#',
  'phase',
  'step',
  'voters old/new',
  'learners',
  'quorum',
  'tolerates',
  'majority on partition',
] as const;

const RIGHT_ALIGNED = new Set<number>([0, 5, 6]);

/** Before the number of a step that runs at the same time as its marked neighbours. */
const TOGETHER_MARK = '=';

function row(step: PlanStep, index: number): string[] {
  const { after } = step;
  const learners = [...after.learners.old, ...after.learners.new];
  return [
    `${step.together ? TOGETHER_MARK : ''}${index + 1}`,
    step.phase,
    step.title,
    `${after.voters.old.length}/${after.voters.new.length}`,
    learners.length === 0 ? '-' : learners.join(','),
    String(after.quorum),
    String(after.faultTolerance),
    after.majoritySideOnPartition === 'neither' ? 'NEITHER' : after.majoritySideOnPartition,
  ];
}

/** A fixed-width table, one line per step, columns `PLAN_TABLE_HEADERS`. */
export function formatPlanTable(plan: MigrationPlan): string {
  const rows = [[...PLAN_TABLE_HEADERS], ...plan.steps.map(row)];
  const widths = PLAN_TABLE_HEADERS.map((_, column) =>
    Math.max(...rows.map((r) => (r[column] ?? '').length)),
  );
  const render = (cells: string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return RIGHT_ALIGNED.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const [header, ...body] = rows;
  return [render(header ?? []), rule, ...body.map(render)].join('\n');
}

/** The whole dry run: summary, table, exact `--initial-cluster` values, warnings. */
export function formatPlan(plan: MigrationPlan): string {
  const { source, target } = plan;
  const lines = [
    `source: ${source.members.map((m) => m.name).join(', ')} (${source.members.length} members, tolerates ${source.faultTolerance})`,
    `target: ${target.members.map((m) => m.name).join(', ')} (${target.members.length} members, tolerates ${target.faultTolerance})`,
    `phases: ${plan.phases.join(' -> ')}`,
    '',
    formatPlanTable(plan),
  ];
  if (plan.steps.some((s) => s.together))
    lines.push(`(${TOGETHER_MARK}: runs at the same time as the marked steps next to it)`);
  lines.push('', '--initial-cluster:');
  for (const step of plan.steps) {
    if (step.kind === 'scale-target') lines.push(`  ${step.member}: ${step.initialCluster}`);
    if (step.kind === 'finalize-target') lines.push(`  final: ${step.initialCluster}`);
  }
  if (plan.warnings.length > 0) {
    lines.push('', 'warnings:', ...plan.warnings.map((w) => `  - ${w}`));
  }
  return lines.join('\n');
}
