import type { StepExecutor } from './step-context.js';

export const scaleSource: StepExecutor<'scale-source'> = async (step, { spec, acts }) => {
  const r = await acts.scaleSource({ spec, replicas: step.replicas, stepId: step.id });
  return `${spec.source.statefulSet} replicas=${r.replicas}`;
};
