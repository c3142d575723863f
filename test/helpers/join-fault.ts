/**
 * Faults on a joining member: inject when the join of a member reaches its add-learner step,
 * and when the workflow pauses after undoing a failed join, heal and resume.
 */
import type { ScenarioContext } from './acceptance.js';
import { resumeSignal } from '../../workflows/messages.js';
import type { MigrationStatus } from '../../workflows/status.js';

export const FAULTY = 'etcd-main-1';

const JOIN_STEPS_BEFORE_PROMOTE: string[] = ['add-learner', 'scale-target', 'await-catch-up'];

function currentStep(s: MigrationStatus) {
  return s.step ? s.plan?.steps[s.step.index] : undefined;
}

/**
 * Injects a fault when the join of `member` (FAULTY unless given) reaches `at` (or the first
 * step after it that the status shows, before the promote), and when the workflow pauses after
 * undoing that join, heals it and resumes. Returns the hook and what it saw.
 */
export function joinFault(
  at: 'add-learner',
  inject: (ctx: ScenarioContext) => Promise<unknown>,
  heal: (ctx: ScenarioContext) => Promise<void>,
  member: string = FAULTY,
) {
  const seen = {
    injectedAt: 0,
    pausedAt: 0,
    recoveredAt: 0,
    pauseReason: '',
    stepIndex: -1,
  };
  const onStatus = async (ctx: ScenarioContext) => {
    const s = ctx.status;
    const step = currentStep(s);
    // On a quiet machine add-learner can pass between two status polls: the steps after it (up
    // to the catch-up, before the promote) are as good a moment, the learner is not a voter yet.
    if (
      !seen.injectedAt &&
      step &&
      JOIN_STEPS_BEFORE_PROMOTE.includes(step.kind) &&
      step.title.includes(member) &&
      step.state === 'running'
    ) {
      seen.injectedAt = Date.now();
      seen.stepIndex = s.plan!.steps.findIndex((p) => p.kind === at && p.title.includes(member));
      await inject(ctx);
      ctx.say(`fault injected at ${step.id}`);
    }
    if (seen.injectedAt && !seen.pausedAt && s.paused?.by === 'etcd-stretch') {
      seen.pausedAt = Date.now();
      seen.pauseReason = s.paused.reason ?? '';
      ctx.say(`paused by the workflow: ${seen.pauseReason}`);
      await heal(ctx);
      await ctx.handle.signal(resumeSignal, { by: 'fault-test' });
    }
    // Recovered: the retried join got past the step the fault hit.
    if (seen.pausedAt && !seen.recoveredAt && s.plan?.steps[seen.stepIndex]?.state === 'done')
      seen.recoveredAt = Date.now();
  };
  return { seen, onStatus };
}
