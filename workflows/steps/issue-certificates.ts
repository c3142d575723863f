import type { StepOfKind } from '../../core/planner/plan-types.js';
import type { Compensation } from '../saga.js';
import { placeOf, type StepContext, type StepExecutor } from './step-context.js';

export const issueCertificates: StepExecutor<'issue-certificates'> = async (step, ctx) => {
  const { spec, acts, facts } = ctx;
  const members = step.members.filter((m) => facts.addresses.target[m] !== undefined);
  const r = await acts.issueCertificates({
    spec,
    members: step.members,
    addresses: Object.fromEntries(members.map((m) => [m, facts.addresses.target[m]!])),
    stepId: step.id,
  });
  ctx.run.registerUndo(undoIssuedCertificates(step, ctx));
  return r.secrets.map((s) => `${s.secret}: issued ${s.issued.length}, kept ${s.kept.length}`).join('; ');
};

export function undoIssuedCertificates(
  step: StepOfKind<'issue-certificates'>,
  ctx: StepContext,
): Compensation {
  const { spec, acts } = ctx;
  return {
    key: step.id,
    title: `delete the issued certificate Secrets ${step.secrets.map((s) => s.name).join(', ')}`,
    run: async () => {
      await acts.deleteIssuedCertificates({ spec, undoes: step.id });
    },
    kubernetes: {
      cluster: 'target',
      step: step.id,
      leaves: [`Secrets ${step.secrets.map((s) => s.name).join(', ')} in ${placeOf(spec, 'target')}`],
    },
  };
}
