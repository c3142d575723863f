import { patched } from '@temporalio/workflow';
import { REGISTER_JOIN_UNDO_FIRST_PATCH } from '../patches.js';
import { joinKey, removeJoinedMember } from './join-undo.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import type { Compensation } from '../saga.js';
import { recordMember, type StepContext, type StepExecutor } from './step-context.js';

export const addLearner: StepExecutor<'add-learner'> = async (step, ctx) => {
  const { spec, acts, run } = ctx;
  const undoJoin = (memberId?: string) => undoAddLearner(step, ctx, memberId);
  // Registered before the add: an abort or failure while it is in flight (it may land in etcd
  // all the same) still removes the learner, by name or peer URL.
  if (!run.clientsSwitched && patched(REGISTER_JOIN_UNDO_FIRST_PATCH)) run.registerUndo(undoJoin());
  const r = await acts.addLearner({
    spec,
    member: step.member,
    peerURLs: step.peerURLs,
    requiredFaultTolerance: ctx.plan.requiredFaultTolerance,
    stepId: step.id,
  });
  recordMember(ctx, r);
  run.registerUndo(undoJoin(r.memberId));
  return `${r.alreadyDone ? 'already a member' : 'added as learner'}: ${r.memberId}`;
};

/** The member leaves the cluster again (by ID, else by name or peer URL). */
export function undoAddLearner(
  step: StepOfKind<'add-learner'>,
  ctx: StepContext,
  memberId?: string,
): Compensation {
  return {
    key: joinKey(step.member),
    title: `remove member ${step.member}`,
    run: () => removeJoinedMember(ctx, step.member, memberId),
  };
}
