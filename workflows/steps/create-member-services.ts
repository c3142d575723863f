import { memberServiceName } from '../../core/planner/members.js';
import { placeOf, type StepExecutor } from './step-context.js';

export const createMemberServices: StepExecutor<'create-member-services'> = async (step, ctx) => {
  const { spec, acts } = ctx;
  const { cluster: side, members } = step;
  const r = await acts.ensureMemberServices({ spec, side, members, stepId: step.id });
  ctx.run.registerUndo({
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
  });
  return `created ${r.created.length}`;
};
