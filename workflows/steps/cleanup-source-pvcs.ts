import type { StepExecutor } from './step-context.js';

export const cleanupSourcePvcs: StepExecutor<'cleanup-source-pvcs'> = async (step, ctx) => {
  const r = await ctx.acts.cleanupSourcePvcs({ spec: ctx.spec, members: step.members, stepId: step.id });
  return `deleted ${r.deleted.join(', ')}`;
};
