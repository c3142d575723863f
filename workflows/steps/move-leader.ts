import type { StepExecutor } from './step-context.js';

export const moveLeader: StepExecutor<'move-leader'> = async (step, ctx) => {
  const { spec, acts } = ctx;
  const r = await acts.moveLeader({ spec, to: step.to, stepId: step.id });
  if (r.from && !r.alreadyLeader) {
    const back = r.from;
    ctx.run.registerUndo({
      key: step.id,
      title: `move leadership back to ${back}`,
      run: async () => {
        await acts.moveLeader({ spec, to: back, undoes: step.id });
      },
    });
  }
  ctx.run.recordEvidence(await acts.observe({ spec }));
  return r.alreadyLeader ? `${step.to} already leads` : `leader ${r.from ?? '?'} -> ${r.to}`;
};
