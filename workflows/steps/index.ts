/**
 * One executor per kind of plan step, in plan order. Each runs its activity, registers its own
 * undo next to it (the saga runs undos newest first) and returns its note. Gates are not steps
 * of their own: the run waits at them (migration-run.ts).
 */
import type { PlanStep, PlanStepKind } from '../../core/planner/plan-types.js';
import { addLearner } from './add-learner.js';
import { awaitCatchUp } from './await-catch-up.js';
import { awaitLoadBalancers } from './await-load-balancers.js';
import { cleanupDns } from './cleanup-dns.js';
import { cleanupMemberServices } from './cleanup-member-services.js';
import { cleanupSourcePvcs } from './cleanup-source-pvcs.js';
import { cleanupSourceStatefulSet } from './cleanup-source-statefulset.js';
import { compact } from './compact.js';
import { configureDns } from './configure-dns.js';
import { createHeadlessService } from './create-headless-service.js';
import { createMemberServices } from './create-member-services.js';
import { finalizeTarget } from './finalize-target.js';
import { issueCertificates } from './issue-certificates.js';
import { moveLeader } from './move-leader.js';
import { preflightChecks } from './preflight-checks.js';
import { promote } from './promote.js';
import { removeMember } from './remove-member.js';
import { rollingDefragment } from './rolling-defragment.js';
import { scaleSource } from './scale-source.js';
import { scaleTarget } from './scale-target.js';
import { soak } from './soak.js';
import type { StepContext, StepExecutor } from './step-context.js';
import { verifyConsistency } from './verify-consistency.js';

export type { RunFacts, StepContext } from './step-context.js';

type ExecutedKind = Exclude<PlanStepKind, 'gate'>;

const EXECUTORS: { [K in ExecutedKind]: StepExecutor<K> } = {
  'preflight-checks': preflightChecks,
  compact,
  'rolling-defragment': rollingDefragment,
  'create-headless-service': createHeadlessService,
  'create-member-services': createMemberServices,
  'await-load-balancers': awaitLoadBalancers,
  'issue-certificates': issueCertificates,
  'configure-dns': configureDns,
  'add-learner': addLearner,
  'scale-target': scaleTarget,
  'await-catch-up': awaitCatchUp,
  promote,
  'move-leader': moveLeader,
  'verify-consistency': verifyConsistency,
  'remove-member': removeMember,
  'scale-source': scaleSource,
  'finalize-target': finalizeTarget,
  soak,
  'cleanup-dns': cleanupDns,
  'cleanup-member-services': cleanupMemberServices,
  'cleanup-source-statefulset': cleanupSourceStatefulSet,
  'cleanup-source-pvcs': cleanupSourcePvcs,
};

/** Runs a step that is not a gate; returns its note. */
export function executeStep(step: Exclude<PlanStep, { kind: 'gate' }>, ctx: StepContext): Promise<string> {
  // The table pairs each kind with its executor; TypeScript cannot follow that through the index.
  const execute = EXECUTORS[step.kind] as StepExecutor<ExecutedKind>;
  return execute(step, ctx);
}
