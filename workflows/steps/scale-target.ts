import { joinKey, removeJoinedMember, stopJoinedMember } from './join-undo.js';
import type { StepExecutor } from './step-context.js';

export const scaleTarget: StepExecutor<'scale-target'> = async (step, ctx) => {
  const { spec, acts, facts } = ctx;
  const r = await acts.scaleTarget({
    spec,
    member: step.member,
    replicas: step.replicas,
    initialCluster: step.initialCluster,
    hostAliases: facts.targetHostAliases,
    stepId: step.id,
  });
  // One undo for the whole join, in the safe order: leave the cluster, then stop the pod.
  ctx.run.registerUndo({
    key: joinKey(step.member),
    title: `remove member ${step.member}, then scale ${spec.target.statefulSet} to ${step.replicas - 1}`,
    run: async () => {
      await removeJoinedMember(ctx, step.member, facts.memberIds[step.member]);
      await stopJoinedMember(ctx, step.member);
    },
  });
  return `${spec.target.statefulSet} replicas=${r.replicas}${r.created ? ' (created)' : ''}`;
};
