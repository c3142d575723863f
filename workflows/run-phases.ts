/**
 * Runs the plan's steps in order, phase after phase: a checkpoint (pause, abort) before each
 * step, the gate that opens each phase, each step through its executor. A failed join is undone
 * and retried after resume; any other failure goes up to the run's ending (endings.ts). Steps a
 * resumed run adopted (done by an earlier run) are not run again (adopted-steps.ts).
 */
import { patched } from '@temporalio/workflow';
import type { PlanStep } from '../core/planner/plan-types.js';
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
    const group = togetherFrom(plan.steps, index);
    if (group.length > 1 && patched(RUN_SIDES_TOGETHER_PATCH)) {
      await runTogether(ctx, group);
      const last = plan.steps[group[group.length - 1]!]!;
      if (safeStopAfter(last, ctx) && group[group.length - 1]! < plan.steps.length - 1)
        return `after ${last.id}`;
      index = group[group.length - 1]! + 1;
      continue;
    }
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

/** The indexes of the steps from `index` on that run together with it (PlanStep.together). */
function togetherFrom(steps: PlanStep[], index: number): number[] {
  const key = steps[index]!.together;
  if (key === undefined) return [index];
  const group = [index];
  while (steps[group.length + index]?.together === key) group.push(group.length + index);
  return group;
}

/**
 * Runs the steps at `indexes` at the same time, after one checkpoint; steps an earlier run did
 * are adopted first. Waits for every step to end, then fails with the first failure in plan order
 * (the steps that failed after it are marked failed; the first stays running for the ending).
 */
async function runTogether(ctx: StepContext, indexes: number[]): Promise<void> {
  const { run, plan } = ctx;
  const progress = run.progress;
  const todo: number[] = [];
  for (const i of indexes) {
    const step = plan.steps[i]!;
    if (!step.adopted) {
      todo.push(i);
      continue;
    }
    progress[i]!.note = await adoptStep(step, ctx);
    progress[i]!.state = 'done';
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
  for (const i of todo) {
    progress[i]!.state = 'running';
    progress[i]!.startedAt = now();
    progress[i]!.endedAt = undefined;
  }
  run.publish();
  const registered = run.saga.size;
  // Each step shows as done when it is, not when the last of them is.
  const execute = async (i: number) => {
    const step = plan.steps[i]!;
    if (step.kind === 'gate') throw new Error(`${step.id} is a gate`);
    const note = await executeStep(step, ctx);
    const p = progress[i]!;
    p.note = note;
    p.state = 'done';
    p.endedAt = now();
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
