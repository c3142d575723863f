import type { StepExecutor } from './step-context.js';
import { ms } from './step-context.js';

export const awaitLoadBalancers: StepExecutor<'await-load-balancers'> = async (step, ctx) => {
  const r = await ctx.acts.awaitLoadBalancers({
    spec: ctx.spec,
    side: step.cluster,
    members: step.members,
    timeoutMs: ms(step.timeout),
    stepId: step.id,
  });
  Object.assign(ctx.facts.addresses[step.cluster], r.addresses);
  return Object.entries(r.addresses)
    .map(([m, ip]) => `${m}=${ip}`)
    .join(', ');
};
