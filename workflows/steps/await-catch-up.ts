import type { StepExecutor } from './step-context.js';
import { ms } from './step-context.js';

export const awaitCatchUp: StepExecutor<'await-catch-up'> = async (step, ctx) => {
  const r = await ctx.acts.awaitCatchUp({
    spec: ctx.spec,
    member: step.member,
    memberId: ctx.facts.memberIds[step.member],
    timeoutMs: ms(step.timeout),
    ...(step.proveLink ? { proveLink: true } : {}),
    stepId: step.id,
  });
  const link = !r.peerLink
    ? ''
    : r.peerLink.checked
      ? `; ${r.peerLink.voter} reaches it (${r.peerLink.waitedMs ?? 0} ms)`
      : `; its link not checked (${r.peerLink.voter}'s /metrics unreadable)`;
  return `applied ${r.appliedIndex}/${r.leaderIndex} after ${r.tookMs} ms${link}`;
};
