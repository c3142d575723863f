import type { StepExecutor } from './step-context.js';

export const verifyConsistency: StepExecutor<'verify-consistency'> = async (step, ctx) => {
  const e = await ctx.acts.verifyConsistency({ spec: ctx.spec, members: step.members, stepId: step.id });
  ctx.run.recordEvidence(e);
  return `hashKV agrees at revision ${e.hashKv?.revision}`;
};
