import { patched } from '@temporalio/workflow';
import { REGISTER_SCALE_UNDO_FIRST_PATCH } from '../patches.js';
import { joinKey, removeJoinedMember, stopJoinedMember } from './join-undo.js';
import type { StepExecutor } from './step-context.js';

export const scaleTarget: StepExecutor<'scale-target'> = async (step, ctx) => {
  const { spec, acts, facts, run } = ctx;
  // One undo for the whole join, in the safe order: leave the cluster, then stop the pod.
  const undoJoin = {
    key: joinKey(step.member),
    title: `remove member ${step.member}, then scale ${spec.target.statefulSet} to ${step.replicas - 1}`,
    run: async () => {
      await removeJoinedMember(ctx, step.member, facts.memberIds[step.member]);
      await stopJoinedMember(ctx, step.member);
    },
  };
  // Registered before the call: a scale cancelled by an abort may have created the pod already.
  if (!run.clientsSwitched && patched(REGISTER_SCALE_UNDO_FIRST_PATCH)) run.registerUndo(undoJoin);
  const r = await acts.scaleTarget({
    spec,
    member: step.member,
    replicas: step.replicas,
    initialCluster: step.initialCluster,
    hostAliases: facts.targetHostAliases,
    stepId: step.id,
  });
  run.registerUndo(undoJoin);
  return `${spec.target.statefulSet} replicas=${r.replicas}${r.created ? ' (created)' : ''}`;
};
