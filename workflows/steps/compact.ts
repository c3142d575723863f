import type { StepExecutor } from './step-context.js';

export const compact: StepExecutor<'compact'> = async (step, { spec, acts }) => {
  const r = await acts.compact({ spec, keepRevisions: step.keepRevisions, stepId: step.id });
  return `compacted to revision ${r.compactedTo} (current ${r.revision})`;
};
