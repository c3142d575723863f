/**
 * Runs the plan's steps in order, phase after phase: a checkpoint (pause, abort) before each
 * step, the gate that opens each phase, each step through its executor. A failed join is undone
 * and retried after resume; any other failure goes up to the run's ending (endings.ts). Steps a
 * resumed run adopted (done by an earlier run) are not run again (adopted-steps.ts).
 */
import { patched } from '@temporalio/workflow';
import type { PlanStep } from '../core/planner/plan-types.js';
import type { StepProgress } from './status.js';
import { adoptStep } from './adopted-steps.js';
import { retryableJoin, undoFailedJoin } from './failed-join.js';
import { failureMessage, now } from './migration-run.js';
import { RUN_SIDES_TOGETHER_PATCH } from './patches.js';
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
    const end = groupEnd(plan.steps, index);
    if (end - index > 1 && patched(RUN_SIDES_TOGETHER_PATCH)) {
      await runTogether(ctx, index, end);
      const last = plan.steps[end - 1]!;
      if (safeStopAfter(last, ctx) && end < plan.steps.length) return `after ${last.id}`;
      index = end;
      continue;
    }
    if (step.adopted) {
      await adopt(ctx, index);
      index++;
      continue;
    }
    await run.checkpoint();
    run.enterPhase(step.phase);
    run.status.step = { index, total: plan.steps.length, id: step.id, title: step.title };
    run.publish();
    markRunning(p);
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
    markDone(p);
    if (safeStopAfter(step, ctx) && index < plan.steps.length - 1) return `after ${step.id}`;
    index++;
  }
  return null;
}

/** Done by an earlier run of this migration (a resumed run): not run again. */
async function adopt(ctx: StepContext, index: number): Promise<void> {
  const p = ctx.run.progress[index]!;
  p.note = await adoptStep(ctx.plan.steps[index]!, ctx);
  p.state = 'done';
}

function markRunning(p: StepProgress): void {
  p.state = 'running';
  p.startedAt = now();
  p.endedAt = undefined;
}

function markDone(p: StepProgress): void {
  p.state = 'done';
  p.endedAt = now();
}

/** Where the steps that run together with the one at `index` end (PlanStep.together). */
function groupEnd(steps: PlanStep[], index: number): number {
  const key = steps[index]!.together;
  let end = index + 1;
  while (key !== undefined && steps[end]?.together === key) end++;
  return end;
}

/**
 * Runs the steps from `start` to `end` at the same time, after one checkpoint; steps an earlier
 * run did are adopted first. Waits for every step to end, then fails with the first failure in
 * plan order (the steps that failed after it are marked failed; the first stays running for the
 * ending).
 */
async function runTogether(ctx: StepContext, start: number, end: number): Promise<void> {
  const { run, plan } = ctx;
  const progress = run.progress;
  const todo: number[] = [];
  for (let i = start; i < end; i++) {
    if (plan.steps[i]!.adopted) await adopt(ctx, i);
    else todo.push(i);
  }
  if (todo.length === 0) return;
  await run.checkpoint();
  const first = plan.steps[todo[0]!]!;
  run.enterPhase(first.phase);
  run.status.step = {
    index: todo[0]!,
    total: plan.steps.length,
    id: first.id,
    title: todo.map((i) => plan.steps[i]!.title).join('; '),
  };
  for (const i of todo) markRunning(progress[i]!);
  run.publish();
  const registered = run.saga.size;
  // Each step shows as done when it is, not when the last of them is.
  const execute = async (i: number) => {
    const step = plan.steps[i]!;
    if (step.kind === 'gate') throw new Error(`${step.id} is a gate`);
    progress[i]!.note = await executeStep(step, ctx);
    markDone(progress[i]!);
    run.publish();
  };
  const results = await run.cancellable(() => Promise.allSettled(todo.map(execute)));
  run.saga.orderSince(
    registered,
    todo.map((i) => plan.steps[i]!.id),
  );
  let failure: { index: number; reason: unknown } | undefined;
  results.forEach((r, k) => {
    if (r.status === 'fulfilled') return;
    const i = todo[k]!;
    if (failure === undefined) {
      failure = { index: i, reason: r.reason };
      return;
    }
    const p = progress[i]!;
    p.state = 'failed';
    p.endedAt = now();
    p.note = failureMessage(r.reason);
  });
  if (failure === undefined) return;
  const failed = plan.steps[failure.index]!;
  run.status.step = { index: failure.index, total: plan.steps.length, id: failed.id, title: failed.title };
  throw failure.reason;
}
