import { patched } from '@temporalio/workflow';
import { MOVE_LEADER_EVIDENCE_PATCH, REGISTER_MOVE_BACK_FIRST_PATCH } from '../patches.js';
import type { StepContext, StepExecutor } from './step-context.js';

export const moveLeader: StepExecutor<'move-leader'> = async (step, ctx) => {
  const { spec, acts, run } = ctx;
  // The move-back is registered before the move, to the leader of the last evidence: a move whose
  // answer was lost is retried, finds the leadership moved (alreadyLeader) and says nothing of
  // where it came from.
  const before = run.status.lastEvidence?.leader ?? null;
  if (
    before !== null &&
    before !== step.to &&
    !run.clientsSwitched &&
    patched(REGISTER_MOVE_BACK_FIRST_PATCH)
  )
    registerMoveBack(ctx, step.id, before);
  const withEvidence = patched(MOVE_LEADER_EVIDENCE_PATCH);
  const r = await acts.moveLeader({
    spec,
    to: step.to,
    stepId: step.id,
    ...(withEvidence ? { withEvidence } : {}),
  });
  if (r.from && !r.alreadyLeader) registerMoveBack(ctx, step.id, r.from);
  // A worker from before the patch ignores withEvidence: the observation follows as it did.
  run.recordEvidence(r.evidence ?? (await acts.observe({ spec })));
  return r.alreadyLeader ? `${step.to} already leads` : `leader ${r.from ?? '?'} -> ${r.to}`;
};

function registerMoveBack({ run, acts, spec }: StepContext, stepId: string, back: string): void {
  run.registerUndo({
    key: stepId,
    title: `move leadership back to ${back}`,
    run: async () => {
      await acts.moveLeader({ spec, to: back, undoes: stepId });
    },
  });
}
