/**
 * Faults on a joining member: inject when the join of a member reaches its add-learner step,
 * and when the workflow pauses after undoing a failed join, heal and resume.
 */
import type { ScenarioContext } from './acceptance.js';
import { resumeSignal } from '../../workflows/messages.js';
import type { MigrationStatus } from '../../workflows/status.js';

export const FAULTY = 'etcd-main-1';

function currentStep(s: MigrationStatus) {
  return s.step ? s.plan?.steps[s.step.index] : undefined;
}

/**
 * Injects a fault when the join of FAULTY reaches `at`, and when the workflow pauses after
 * undoing that join, heals it and resumes. Returns the hook and what it saw.
 */
export function joinFault(
  at: 'add-learner',
  inject: (ctx: ScenarioContext) => Promise<unknown>,
  heal: (ctx: ScenarioContext) => Promise<void>,
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
    if (!seen.injectedAt && step?.kind === at && step.title.includes(FAULTY) && step.state === 'running') {
      seen.injectedAt = Date.now();
      seen.stepIndex = s.step!.index;
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
