import type { StepExecutor } from './step-context.js';

/** The checks ran before planning (the plan needs their observations); the step only reports them. */
export const preflightChecks: StepExecutor<'preflight-checks'> = () =>
  Promise.resolve('checked before planning');
