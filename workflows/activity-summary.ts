/**
 * What the Web UI shows for each activity (its summary, in the timeline and the event history):
 * the plan step it runs or undoes, in the plan's words, and the cluster whose worker runs it.
 * Metadata only: the summary travels with the schedule command but replay does not compare it.
 */
import type { Side } from '../core/planner/plan-types.js';

export interface SummaryInput {
  stepId?: string;
  undoes?: string;
  member?: string;
  part?: string;
}

/**
 * Single-line summary of one call of activity `name`; `side`: the cluster it acts on (absent
 * when it reads both); `stepTitle` looks a plan step's title up.
 */
export function activitySummary(
  name: string,
  input: SummaryInput,
  side: Side | undefined,
  stepTitle: (id: string) => string | undefined,
): string {
  const titleOf = (id: string) => stepTitle(id) ?? id;
  let what: string;
  if (input.undoes !== undefined) what = `undo: ${titleOf(input.undoes)}`;
  else if (input.stepId !== undefined) what = titleOf(input.stepId);
  else if (name === 'preflight') what = `preflight checks${input.part ? ` (${input.part} part)` : ''}`;
  else if (name === 'observe') what = 'read the member list and health';
  else what = input.member ? `${name} ${input.member}` : name;
  what = what.replace(/\s+/g, ' ');
  return side === undefined ? what : `${what} [${side}]`;
}
