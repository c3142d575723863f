/** What every phase planner reads: the spec, both member lists and the sizes. Pure. */
import { MAX_TARGET_REPLICAS, type MigrationSpec } from '../../spec/schema.js';
import { PlanError, newMembersFor, oldMembersFrom } from '../members.js';
import type { PlanBuilder } from '../plan-builder.js';
import type { PlanInput, PlanMember } from '../plan-types.js';

export interface PlanContext {
  readonly spec: MigrationSpec;
  /** The observed source members `<source>-0..n-1`, by ordinal. */
  readonly oldMembers: PlanMember[];
  /** The members to be, `<target>-0..m-1`. */
  readonly newMembers: PlanMember[];
  /** Number of old members. */
  readonly n: number;
  /** Number of new members (target.replicas, default n). */
  readonly m: number;
  /** Source and target are the same context and namespace: no load balancers, no DNS. */
  readonly oneNamespace: boolean;
  /** The old member with this ordinal (a planner bug if there is none). */
  readonly oldMember: (ordinal: number) => PlanMember;
  /** The new member with this ordinal (a planner bug if there is none). */
  readonly newMember: (ordinal: number) => PlanMember;
}

/** Adds one phase's steps to the plan. */
export type PhasePlanner = (b: PlanBuilder, ctx: PlanContext) => void;

/** Throws PlanError when the observed members or the target size make a safe plan impossible. */
export function planContext(input: PlanInput): PlanContext {
  const { spec } = input;
  const oldMembers = oldMembersFrom(spec, input.observed.members);
  const n = oldMembers.length;
  const m = spec.target.replicas ?? n;
  if (!Number.isInteger(m) || m < 1 || m > MAX_TARGET_REPLICAS) {
    throw new PlanError(
      spec.target.replicas === undefined
        ? `the source has ${n} members; target.replicas defaults to that but must be 1..${MAX_TARGET_REPLICAS}: set it`
        : `target.replicas must be 1..${MAX_TARGET_REPLICAS}, got ${m}`,
    );
  }
  const newMembers = newMembersFor(spec, m);
  const { source, target } = spec;
  return {
    spec,
    oldMembers,
    newMembers,
    n,
    m,
    oneNamespace: source.context === target.context && source.namespace === target.namespace,
    oldMember: (ordinal) => memberAt(oldMembers, ordinal, 'old'),
    newMember: (ordinal) => memberAt(newMembers, ordinal, 'new'),
  };
}

function memberAt(members: readonly PlanMember[], ordinal: number, side: 'old' | 'new'): PlanMember {
  const member = members[ordinal];
  if (member === undefined) throw new Error(`planner bug: no ${side} member ${ordinal}`);
  return member;
}

/** Member names for step titles: `a, b, c`. */
export function names(members: readonly PlanMember[]): string {
  return members.map((m) => m.name).join(', ');
}
