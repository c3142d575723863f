/**
 * The steps a resumed run adopts (core/planner/resume.ts): done by an earlier run of the same
 * migration, they are not run again. What later steps need from them is recovered: the client
 * switch, the load-balancer addresses and hostAliases that the target's next pods get, and (before
 * the switch) their undos, so a rollback of the resumed run undoes the earlier run's work too.
 */
import { patched } from '@temporalio/workflow';
import type { PlanStep } from '../core/planner/plan-types.js';
import { UNDO_ADOPTED_STEPS_PATCH } from './patches.js';
import type { Compensation } from './saga.js';
import { undoAddLearner } from './steps/add-learner.js';
import { entriesFor, undoConfigureDns } from './steps/configure-dns.js';
import { undoHeadlessService } from './steps/create-headless-service.js';
import { undoMemberServices } from './steps/create-member-services.js';
import { executeStep, type StepContext } from './steps/index.js';
import { undoIssuedCertificates } from './steps/issue-certificates.js';
import { undoScaleTarget } from './steps/scale-target.js';

const ADOPTED = 'done by an earlier run (adopted)';

/** Completes the adoption of `step`; returns its note. */
export async function adoptStep(step: PlanStep, ctx: StepContext): Promise<string> {
  const { run, facts } = ctx;
  // Before the switch a rollback of this run returns the cluster to where the migration started,
  // so it undoes what the earlier run did too: the undo each adopted step would have registered.
  if (!run.clientsSwitched && patched(UNDO_ADOPTED_STEPS_PATCH)) {
    const undo = undoOfAdopted(step, ctx);
    if (undo) run.registerUndo(undo);
  }
  if (step.kind === 'gate') {
    if (step.gate === 'switch-clients') run.switchClients();
    return ADOPTED;
  }
  if (step.kind === 'await-load-balancers' && needsAddresses(ctx)) {
    // A read: the addresses the next new members' hostAliases are made of.
    return `${ADOPTED}; ${await run.cancellable(() => executeStep(step, ctx))}`;
  }
  if (
    step.kind === 'configure-dns' &&
    step.cluster === 'target' &&
    step.strategy.strategy === 'host-aliases' &&
    needsAddresses(ctx)
  ) {
    facts.targetHostAliases = entriesFor(step, facts);
  }
  return ADOPTED;
}

/** A target pod still starts (join, leader, retire) and gets the host-aliases entries. */
function needsAddresses({ spec, plan }: StepContext): boolean {
  const next = plan.steps.find((s) => !s.adopted);
  return (
    spec.dns.targetCluster.strategy === 'host-aliases' &&
    next !== undefined &&
    ['join', 'leader', 'retire'].includes(next.phase)
  );
}

/** The undo the step's executor registers after it ran; none for steps that change nothing to undo. */
function undoOfAdopted(step: PlanStep, ctx: StepContext): Compensation | undefined {
  switch (step.kind) {
    case 'issue-certificates':
      return undoIssuedCertificates(step, ctx);
    case 'create-headless-service':
      return undoHeadlessService(step, ctx);
    case 'create-member-services':
      return undoMemberServices(step, ctx);
    case 'configure-dns':
      return undoConfigureDns(step, ctx);
    case 'add-learner':
      return undoAddLearner(step, ctx, ctx.facts.memberIds[step.member]);
    case 'scale-target':
      return undoScaleTarget(step, ctx);
    default:
      // Compaction and defragmentation are not undone; a promotion's undo is its join's; the
      // leader moved by an earlier run is not moved back (the removals move it off any member
      // they remove); nothing after the switch is rolled back.
      return undefined;
  }
}
