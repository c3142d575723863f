import { recordMember, type StepExecutor } from './step-context.js';

export const promote: StepExecutor<'promote'> = async (step, ctx) => {
  const r = await ctx.acts.promote({
    spec: ctx.spec,
    member: step.member,
    requiredFaultTolerance: ctx.plan.requiredFaultTolerance,
    stepId: step.id,
  });
  recordMember(ctx, r);
  return r.alreadyDone ? 'already a voter' : 'promoted';
};
