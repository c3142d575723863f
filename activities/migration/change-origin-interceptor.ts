/** Gives each activity the plan step its input names, for the Events of what it changes. */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withStepOf } from '../change-origin.js';

export const changeOriginInterceptor: ActivityInterceptorsFactory = () => ({
  inbound: {
    execute: (input, next) => withStepOf(input.args[0], () => next(input)),
  },
});
