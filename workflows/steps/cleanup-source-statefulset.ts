import type { StepExecutor } from './step-context.js';

export const cleanupSourceStatefulSet: StepExecutor<'cleanup-source-statefulset'> = async (step, ctx) => {
  await ctx.acts.cleanupSourceStatefulSet({ spec: ctx.spec, stepId: step.id });
  return 'deleted';
};
