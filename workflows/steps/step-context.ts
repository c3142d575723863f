/** What every step executor gets: the spec and plan, the activities, the run, and what was learned. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { DnsEntryInput, MembershipResult, Side } from '../../core/activity-contract.js';
import type { MigrationPlan, PlanStepKind, StepOfKind } from '../../core/planner/plan-types.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { parseDuration } from '../../core/spec/duration.js';
import { FailureType } from '../../core/failure-types.js';
import type { WorkflowActivities } from '../activity-options.js';
import type { MigrationRun } from '../migration-run.js';

/** Values learned along the way that later steps (and undos) need. */
export interface RunFacts {
  /** The load-balancer address of each member, by the cluster its Service is in. */
  addresses: Record<Side, Record<string, string>>;
  /** The entries of the target's hostAliases (host-aliases strategy), given to each new pod. */
  targetHostAliases: DnsEntryInput[];
  /** etcd member IDs by member name. */
  memberIds: Record<string, string>;
}

export interface StepContext {
  spec: MigrationSpec;
  plan: MigrationPlan;
  acts: WorkflowActivities;
  run: MigrationRun;
  facts: RunFacts;
}

/** Runs one plan step; returns what it did, in the operator's words (the step's note). */
export type StepExecutor<K extends PlanStepKind> = (step: StepOfKind<K>, ctx: StepContext) => Promise<string>;

/** Where a side's objects are, for the operator: `<context>/<namespace>`. */
export function placeOf(spec: MigrationSpec, side: Side): string {
  return `${spec[side].context}/${spec[side].namespace}`;
}

/** Durations in a validated spec always parse. */
export function ms(duration: string): number {
  const value = parseDuration(duration);
  if (value === undefined)
    throw ApplicationFailure.nonRetryable(`invalid duration ${duration}`, FailureType.InvalidSpec);
  return value;
}

/** The plan's step of `kind` for `member` (the join steps of one member are unique). */
export function memberStep<K extends 'add-learner' | 'scale-target'>(
  plan: MigrationPlan,
  kind: K,
  member: string,
): StepOfKind<K> | undefined {
  return plan.steps.find((s): s is StepOfKind<K> => s.kind === kind && s.member === member);
}

/** Keeps the member's ID (later steps and undos address it by ID) and the run's evidence. */
export function recordMember(ctx: StepContext, r: MembershipResult): void {
  ctx.facts.memberIds[r.member] = r.memberId;
  ctx.run.recordMembership(r);
}
