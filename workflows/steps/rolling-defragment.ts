import type { StepExecutor } from './step-context.js';

export const rollingDefragment: StepExecutor<'rolling-defragment'> = async (step, { spec, acts }) => {
  const r = await acts.rollingDefragment({ spec, members: step.members, stepId: step.id });
  return `defragmented ${r.order.join(' -> ')}; db ${r.dbSizeBefore} -> ${r.dbSizeAfter} bytes`;
};
