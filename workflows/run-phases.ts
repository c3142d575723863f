/**
 * Runs the plan's steps in order, phase after phase: a checkpoint (pause, abort) before each
 * step, the gate that opens each phase, each step through its executor. A failed join is undone
 * and retried after resume; any other failure goes up to the run's ending (endings.ts). Steps a
 * resumed run adopted (done by an earlier run) are not run again (adopted-steps.ts).
 */
import type { PlanStep } from '../core/planner/plan-types.js';
import { adoptStep } from './adopted-steps.js';
import { retryableJoin, undoFailedJoin } from './failed-join.js';
import { now } from './migration-run.js';
import { executeStep, type StepContext } from './steps/index.js';

/** Where an abort after the client switch may stop the run: a new-side majority and no learner. */
function safeStopAfter(step: PlanStep, ctx: StepContext): boolean {
  const { run } = ctx;
  return (
    run.abortRequested &&
    run.clientsSwitched &&
    step.after.majoritySideOnPartition !== 'neither' &&
    step.after.learners.new.length === 0
  );
}

/** Runs the plan; returns where it stopped when an abort after the client switch ended it early. */
export async function runPhases(ctx: StepContext): Promise<string | null> {
  const { run, plan } = ctx;
  const progress = run.progress;
  let index = 0;
  while (index < plan.steps.length) {
    const step = plan.steps[index]!;
    const p = progress[index]!;
    if (step.adopted) {
      // Done by an earlier run of this migration (a resumed run): not run again.
      p.note = await adoptStep(step, ctx);
      p.state = 'done';
      index++;
      continue;
    }
    await run.checkpoint();
    run.enterPhase(step.phase);
    run.status.step = { index, total: plan.steps.length, id: step.id, title: step.title };
    run.publish();
    p.state = 'running';
    p.startedAt = now();
    p.endedAt = undefined;
    if (step.kind === 'gate') {
      if (!(await run.waitAtGate(step))) {
        p.state = 'pending';
        p.startedAt = undefined;
        return `before ${step.id}`;
      }
      if (step.gate === 'switch-clients') run.switchClients();
    } else {
      try {
        p.note = await run.cancellable(() => executeStep(step, ctx));
      } catch (err) {
        const member = retryableJoin(step, err, ctx);
        if (member === undefined) throw err;
        index = await undoFailedJoin(ctx, member, index, err);
        continue;
      }
    }
    p.state = 'done';
    p.endedAt = now();
    if (safeStopAfter(step, ctx) && index < plan.steps.length - 1) return `after ${step.id}`;
    index++;
  }
  return null;
}
