import { patched } from '@temporalio/workflow';
import { REGISTER_SCALE_UNDO_FIRST_PATCH } from '../patches.js';
import { joinKey, removeJoinedMember, stopJoinedMember } from './join-undo.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import type { Compensation } from '../saga.js';
import { placeOf, type StepContext, type StepExecutor } from './step-context.js';

export const scaleTarget: StepExecutor<'scale-target'> = async (step, ctx) => {
  const { spec, acts, facts, run } = ctx;
  const undoJoin = undoScaleTarget(step, ctx);
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

/** One undo for the whole join, in the safe order: leave the cluster, then stop the pod. */
export function undoScaleTarget(step: StepOfKind<'scale-target'>, ctx: StepContext): Compensation {
  const { spec, facts } = ctx;
  return {
    key: joinKey(step.member),
    title: `remove member ${step.member}, then scale ${spec.target.statefulSet} to ${step.replicas - 1}`,
    run: async () => {
      await removeJoinedMember(ctx, step.member, facts.memberIds[step.member]);
      await stopJoinedMember(ctx, step.member);
    },
    kubernetes: {
      cluster: 'target',
      step: step.id,
      leaves: podLeft(ctx, step.member, step.replicas),
    },
  };
}

/** What stays in the target when the member's pod cannot be stopped (the last one: everything). */
function podLeft(
  { spec }: Parameters<StepExecutor<'scale-target'>>[1],
  member: string,
  replicas: number,
): string[] {
  const sts = spec.target.statefulSet;
  const where = placeOf(spec, 'target');
  if (replicas > 1)
    return [
      `pod ${member} of StatefulSet ${sts} in ${where} (not scaled back to ${replicas - 1}) and its PersistentVolumeClaims`,
    ];
  return [
    `StatefulSet ${sts} in ${where} with pod ${member} and its PersistentVolumeClaims`,
    `headless Service ${spec.target.service} in ${where}`,
  ];
}
