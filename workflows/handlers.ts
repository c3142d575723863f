/** The workflow's signal, update and query handlers: each one a named operation of the run. */
import { setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  type ApproveInput,
} from './messages.js';
import type { MigrationRun } from './migration-run.js';

export function installHandlers(run: MigrationRun): void {
  setHandler(statusQuery, () => run.status);
  setHandler(approveSignal, (a) => void run.approve(a, 'approve signal'));
  setHandler(
    approveUpdate,
    (a) => {
      run.approve(a, 'approve update');
      return { accepted: true as const, gate: a.gate };
    },
    {
      validator: (a: ApproveInput) => {
        const refusal = run.approvalRefusal(a.gate);
        if (refusal) throw new Error(`gate ${a.gate} is not waiting for approval (${refusal})`);
      },
    },
  );
  setHandler(pauseSignal, (p) => run.pause(p));
  setHandler(resumeSignal, () => run.resume());
  setHandler(abortSignal, (a) => run.abort(a));
}
