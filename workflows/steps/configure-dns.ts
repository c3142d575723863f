/** The dns phase: each cluster resolves the other cluster's member names to their load balancers. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { DnsEntryInput, Side } from '../../core/activity-contract.js';
import { FailureType } from '../../core/failure-types.js';
import { strategyLabel } from '../../core/planner/phases/dns.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import { confirmDns } from './confirm-dns.js';
import type { Compensation } from '../saga.js';
import { placeOf, type RunFacts, type StepContext, type StepExecutor } from './step-context.js';

/** The names are the other cluster's members; their IPs are that cluster's load balancers. */
export function entriesFor(step: StepOfKind<'configure-dns'>, facts: RunFacts): DnsEntryInput[] {
  const other: Side = step.cluster === 'source' ? 'target' : 'source';
  return step.entries.map((e) => {
    const ip = facts.addresses[other][e.member];
    if (!ip)
      throw ApplicationFailure.nonRetryable(
        `no load-balancer address known for ${e.member}`,
        FailureType.PlanOrderError,
      );
    return { ip, hostnames: e.hostnames };
  });
}

export const configureDns: StepExecutor<'configure-dns'> = async (step, ctx) => {
  const { spec, acts } = ctx;
  const entries = entriesFor(step, ctx.facts);
  if (step.cluster === 'target' && step.strategy.strategy === 'host-aliases')
    ctx.facts.targetHostAliases = entries;
  await acts.configureDns({ spec, side: step.cluster, strategy: step.strategy, entries, stepId: step.id });
  ctx.run.registerUndo(undoConfigureDns(step, ctx));
  const confirmed = await confirmDns(step, entries, ctx);
  return `${entries.length} entries via ${step.strategy.strategy}${confirmed}`;
};

/** Removes the step's names (the hostnames alone: no address is needed to remove them). */
export function undoConfigureDns(step: StepOfKind<'configure-dns'>, ctx: StepContext): Compensation {
  const { spec, acts } = ctx;
  const hostnames = step.entries.flatMap((e) => e.hostnames);
  return {
    key: step.id,
    title: `remove DNS entries for ${step.entries.map((e) => e.member).join(', ')} (${step.cluster})`,
    run: () =>
      acts.removeDns({ spec, side: step.cluster, strategy: step.strategy, hostnames, undoes: step.id }),
    kubernetes: {
      cluster: step.cluster,
      step: step.id,
      leaves: [
        `DNS entries for ${hostnames.join(', ')} (${strategyLabel(step.strategy)} in ${placeOf(spec, step.cluster)})`,
      ],
    },
  };
}
