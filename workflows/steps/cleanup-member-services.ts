import type { StepExecutor } from './step-context.js';

export const cleanupMemberServices: StepExecutor<'cleanup-member-services'> = async (step, ctx) => {
  const { cluster: side, members } = step;
  await ctx.acts.deleteMemberServices({ spec: ctx.spec, side, members, stepId: step.id });
  return 'deleted';
};
