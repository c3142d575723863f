import { placeOf, type StepExecutor } from './step-context.js';

export const createHeadlessService: StepExecutor<'create-headless-service'> = async (step, ctx) => {
  const { spec, acts } = ctx;
  const r = await acts.ensureHeadlessService({ spec, side: step.cluster, stepId: step.id });
  ctx.run.registerUndo({
    key: step.id,
    title: `delete headless Service ${step.service} (${step.cluster})`,
    run: () => acts.deleteHeadlessService({ spec, side: step.cluster, undoes: step.id }),
    kubernetes: {
      cluster: step.cluster,
      step: step.id,
      leaves: [`headless Service ${step.service} in ${placeOf(spec, step.cluster)}`],
    },
  });
  return r.created ? 'created' : 'already there';
};
