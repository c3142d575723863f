import type { StepOfKind } from '../../core/planner/plan-types.js';
import type { Compensation } from '../saga.js';
import { placeOf, type StepContext, type StepExecutor } from './step-context.js';

export const createHeadlessService: StepExecutor<'create-headless-service'> = async (step, ctx) => {
  const r = await ctx.acts.ensureHeadlessService({ spec: ctx.spec, side: step.cluster, stepId: step.id });
  ctx.run.registerUndo(undoHeadlessService(step, ctx));
  return r.created ? 'created' : 'already there';
};

export function undoHeadlessService(
  step: StepOfKind<'create-headless-service'>,
  ctx: StepContext,
): Compensation {
  const { spec, acts } = ctx;
  return {
    key: step.id,
    title: `delete headless Service ${step.service} (${step.cluster})`,
    run: () => acts.deleteHeadlessService({ spec, side: step.cluster, undoes: step.id }),
    kubernetes: {
      cluster: step.cluster,
      step: step.id,
      leaves: [`headless Service ${step.service} in ${placeOf(spec, step.cluster)}`],
    },
  };
}
