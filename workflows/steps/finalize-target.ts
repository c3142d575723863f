import type { StepExecutor } from './step-context.js';

export const finalizeTarget: StepExecutor<'finalize-target'> = async (step, { spec, acts }) => {
  await acts.finalizeTarget({ spec, initialCluster: step.initialCluster, stepId: step.id });
  return 'initial-cluster lists only the new members';
};
