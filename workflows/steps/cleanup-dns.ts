import type { StepExecutor } from './step-context.js';

export const cleanupDns: StepExecutor<'cleanup-dns'> = async (step, ctx) => {
  await ctx.acts.removeDns({
    spec: ctx.spec,
    side: step.cluster,
    strategy: step.strategy,
    hostnames: step.entries.flatMap((e) => e.hostnames),
    stepId: step.id,
  });
  return 'removed';
};
