import { recordMember, type StepExecutor } from './step-context.js';

export const removeMember: StepExecutor<'remove-member'> = async (step, ctx) => {
  const r = await ctx.acts.removeMember({
    spec: ctx.spec,
    member: step.member,
    memberId: step.memberId ?? ctx.facts.memberIds[step.member],
    requiredFaultTolerance: ctx.plan.requiredFaultTolerance,
    stepId: step.id,
  });
  recordMember(ctx, r);
  return r.alreadyDone ? 'already removed' : `removed ${r.memberId}`;
};
