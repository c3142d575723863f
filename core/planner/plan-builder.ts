/**
 * Collects a plan's steps in order and tracks the membership after each one. Opens every phase
 * but preflight with its gate (GATE_BEFORE_PHASE). Pure.
 */
import type { MigrationSpec } from '../spec/schema.js';
import { targetClientURL } from './members.js';
import {
  GATE_BEFORE_PHASE,
  type MembershipState,
  type PhaseName,
  type PlanAction,
  type PlanMember,
  type PlanStep,
} from './plan-types.js';
import { faultTolerance, majoritySideOnPartition, quorumSize } from './quorum.js';

interface Membership {
  oldVoters: PlanMember[];
  newVoters: PlanMember[];
  newLearners: PlanMember[];
}

/** Steps that change etcd's membership or its leader, or wait on a member's join: one at a time, always. */
const MEMBERSHIP_CHANGES: ReadonlySet<PlanStep['kind']> = new Set([
  'add-learner',
  'scale-target',
  'await-catch-up',
  'promote',
  'move-leader',
  'remove-member',
  'scale-source',
  'finalize-target',
]);

function byOrdinal(a: PlanMember, b: PlanMember): number {
  return a.ordinal - b.ordinal;
}

export class PlanBuilder {
  readonly steps: PlanStep[] = [];
  private readonly membership: Membership;

  constructor(
    private readonly spec: MigrationSpec,
    oldMembers: readonly PlanMember[],
    private readonly newMembers: readonly PlanMember[],
  ) {
    this.membership = { oldVoters: [...oldMembers], newVoters: [], newLearners: [] };
  }

  /** Every member right now, in `--initial-cluster` order: old voters, then new members by ordinal. */
  currentMembers(): PlanMember[] {
    const { oldVoters, newVoters, newLearners } = this.membership;
    return [...oldVoters, ...[...newVoters, ...newLearners].sort(byOrdinal)];
  }

  voters(): PlanMember[] {
    return [...this.membership.oldVoters, ...this.membership.newVoters];
  }

  newVoters(): PlanMember[] {
    return [...this.membership.newVoters];
  }

  /** Phases that have steps, in order. */
  phases(): PhaseName[] {
    const phases: PhaseName[] = [];
    for (const step of this.steps) if (phases[phases.length - 1] !== step.phase) phases.push(step.phase);
    return phases;
  }

  add(phase: PhaseName, subject: string | undefined, action: PlanAction, title: string): void {
    const previous = this.steps[this.steps.length - 1];
    if (previous !== undefined && previous.phase !== phase && phase !== 'preflight') this.gate(phase);
    this.apply(action);
    const id = [phase, subject, action.kind].filter((part) => part !== undefined).join('/');
    this.steps.push({ ...action, id, phase, title, after: this.snapshot() });
  }

  /**
   * Marks the steps `add` adds in `fn` to run at the same time (PlanStep.together), when there
   * are two or more. For independent steps only: each cluster's part of a phase, never a
   * membership change.
   */
  together(key: string, fn: () => void): void {
    const first = this.steps.length;
    fn();
    // The phase's gate, when these are its first steps, comes before them, on its own.
    const added = this.steps.slice(first).filter((s) => s.kind !== 'gate');
    if (added.length < 2) return;
    for (const step of added) {
      if (MEMBERSHIP_CHANGES.has(step.kind))
        throw new Error(`planner bug: ${step.id} cannot run together with other steps`);
      step.together = key;
    }
  }

  private gate(phase: Exclude<PhaseName, 'preflight'>): void {
    const gate = GATE_BEFORE_PHASE[phase];
    const approval = this.spec.gates[gate];
    let action: Extract<PlanAction, { kind: 'gate' }> = { kind: 'gate', gate, approval };
    let title = `gate ${gate} (${approval})`;
    if (gate === 'switch-clients') {
      const endpoints = this.membership.newVoters.map((m) => targetClientURL(this.spec, m.name));
      action = { ...action, clientEndpoints: endpoints };
      title += `: point clients at ${endpoints.join(', ')}`;
      const voters = new Set(this.membership.newVoters.map((m) => m.name));
      const later = this.newMembers.filter((m) => !voters.has(m.name));
      if (later.length > 0) {
        const verb = later.length === 1 ? 'becomes a voter' : 'become voters';
        title += ` (${later.map((m) => m.name).join(', ')} ${verb} during retire)`;
      }
    }
    this.steps.push({ ...action, id: `gate/${gate}`, phase, title, after: this.snapshot() });
  }

  private apply(action: PlanAction): void {
    const m = this.membership;
    switch (action.kind) {
      case 'add-learner': {
        const ordinal = Number(action.member.slice(action.member.lastIndexOf('-') + 1));
        m.newLearners.push({ name: action.member, ordinal, peerURLs: [...action.peerURLs] });
        break;
      }
      case 'promote': {
        const index = m.newLearners.findIndex((l) => l.name === action.member);
        const [member] = m.newLearners.splice(index, 1);
        if (index === -1 || member === undefined)
          throw new Error(`planner bug: ${action.member} is not a learner`);
        m.newVoters.push(member);
        m.newVoters.sort(byOrdinal);
        break;
      }
      case 'remove-member': {
        const index = m.oldVoters.findIndex((v) => v.name === action.member);
        if (index === -1) throw new Error(`planner bug: ${action.member} is not an old voter`);
        m.oldVoters.splice(index, 1);
        break;
      }
      default:
        break;
    }
  }

  private snapshot(): MembershipState {
    const { oldVoters, newVoters, newLearners } = this.membership;
    const voters = oldVoters.length + newVoters.length;
    return {
      voters: { old: oldVoters.map((v) => v.name), new: newVoters.map((v) => v.name) },
      learners: { old: [], new: newLearners.map((l) => l.name) },
      quorum: quorumSize(voters),
      faultTolerance: faultTolerance(voters),
      majoritySideOnPartition: majoritySideOnPartition(oldVoters.length, newVoters.length),
    };
  }
}
