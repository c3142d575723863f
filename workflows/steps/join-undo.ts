/**
 * The undo of a member's join, shared by its two forward steps (add-learner, scale-target) and
 * by the undo of a failed join: the member leaves the cluster first, then its pod stops.
 */
import type { StepContext } from './step-context.js';
import { memberStep } from './step-context.js';

/** Removes `member` from etcd (by ID, else by name, else by peer URL); nothing to do if absent. */
export async function removeJoinedMember(ctx: StepContext, member: string, memberId?: string): Promise<void> {
  const add = memberStep(ctx.plan, 'add-learner', member);
  await ctx.acts.removeLearner({
    spec: ctx.spec,
    member,
    memberId,
    peerURLs: add?.peerURLs,
    requiredFaultTolerance: ctx.plan.requiredFaultTolerance,
    undoes: add?.id,
  });
}

/** Scales the target back by one, stopping `member` (its PVC goes too). */
export async function stopJoinedMember(
  ctx: StepContext,
  member: string,
  options: { keepHeadlessService?: boolean } = {},
): Promise<void> {
  const scale = memberStep(ctx.plan, 'scale-target', member);
  if (!scale) return;
  await ctx.acts.shrinkTarget({
    spec: ctx.spec,
    replicas: scale.replicas - 1,
    removedMembers: [member],
    ...options,
    undoes: scale.id,
  });
}

/** The saga key of a member's join: its undo grows from "remove" to "remove, then stop". */
export const joinKey = (member: string): string => `join/${member}`;
