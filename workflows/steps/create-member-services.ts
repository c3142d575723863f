import { memberServiceName } from '../../core/planner/members.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import type { Compensation } from '../saga.js';
import { placeOf, type StepContext, type StepExecutor } from './step-context.js';

export const createMemberServices: StepExecutor<'create-member-services'> = async (step, ctx) => {
  const r = await ctx.acts.ensureMemberServices({
    spec: ctx.spec,
    side: step.cluster,
    members: step.members,
    stepId: step.id,
  });
  ctx.run.registerUndo(undoMemberServices(step, ctx));
  return `created ${r.created.length}`;
};

export function undoMemberServices(
  step: StepOfKind<'create-member-services'>,
  ctx: StepContext,
): Compensation {
  const { spec, acts } = ctx;
  const { cluster: side, members } = step;
  return {
    key: step.id,
    title: `delete member Services of ${members.join(', ')} (${side})`,
    run: () => acts.deleteMemberServices({ spec, side, members, undoes: step.id }),
    kubernetes: {
      cluster: side,
      step: step.id,
      leaves: [
        `LoadBalancer Services ${members.map(memberServiceName).join(', ')} in ${placeOf(spec, side)}`,
      ],
    },
  };
}
