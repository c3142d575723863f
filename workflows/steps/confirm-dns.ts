/**
 * After configure-dns: wait until the cluster's DNS answers the member names as configured,
 * before any step depends on them (a learner's peers dial it by name). Only where the worker
 * resolves through that cluster's DNS (core/dns-confirmation.ts); read-only, so no undo.
 */
import { patched } from '@temporalio/workflow';
import type { DnsEntryInput } from '../../core/activity-contract.js';
import { answeredByClusterDns, confirmsDnsInCluster } from '../../core/dns-confirmation.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import { now } from '../migration-run.js';
import { CONFIRM_DNS_PATCH } from '../patches.js';
import { ms, type StepContext } from './step-context.js';

/** The note's addition when the names were confirmed, or '' when this run does not confirm. */
export async function confirmDns(
  step: StepOfKind<'configure-dns'>,
  entries: DnsEntryInput[],
  ctx: StepContext,
): Promise<string> {
  const { spec, acts, run } = ctx;
  if (!confirmsDnsInCluster(spec) || !answeredByClusterDns(step.strategy) || !patched(CONFIRM_DNS_PATCH))
    return '';
  const pending = entries.flatMap((e) => e.hostnames);
  const r = await run.waitingOn({ kind: 'dns', cluster: step.cluster, pending, since: now() }, () =>
    acts.awaitDnsResolution({
      spec,
      side: step.cluster,
      entries,
      timeoutMs: ms(spec.deadlines.dns),
      stepId: step.id,
    }),
  );
  return `; ${step.cluster} DNS answers them (after ${Math.round(r.tookMs / 1000)} s)`;
}
