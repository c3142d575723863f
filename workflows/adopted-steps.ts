/**
 * The steps a resumed run adopts (core/planner/resume.ts): done by an earlier run of the same
 * migration, they are not run again. What later steps need from them is recovered: the client
 * switch, and the load-balancer addresses and hostAliases that the target's next pods get.
 */
import type { PlanStep } from '../core/planner/plan-types.js';
import { entriesFor } from './steps/configure-dns.js';
import { executeStep, type StepContext } from './steps/index.js';

const ADOPTED = 'done by an earlier run (adopted)';

/** Completes the adoption of `step`; returns its note. */
export async function adoptStep(step: PlanStep, ctx: StepContext): Promise<string> {
  const { run, facts } = ctx;
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
