import { condition } from '@temporalio/workflow';
import type { StepExecutor } from './step-context.js';

/** The new cluster runs alone for a while before cleanup; an abort cuts it short. */
export const soak: StepExecutor<'soak'> = async (step, { run }) => {
  const { status } = run;
  status.workflowState = 'soaking';
  status.waitingFor = { kind: 'soak', until: new Date(Date.now() + step.ms).toISOString() };
  run.publish();
  await condition(() => status.abort !== null, step.ms);
  status.waitingFor = null;
  status.workflowState = 'running';
  run.publish();
  return status.abort ? 'cut short by abort' : `soaked ${step.duration}`;
};
