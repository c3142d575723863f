import { describe, expect, it } from 'vitest';
import { assumedSourceMembers, planMigration, PlanError } from '../../core/planner/plan.js';
import {
  GATE_BEFORE_PHASE,
  PHASES,
  type MembershipState,
  type MigrationPlan,
  type ObservedMember,
  type PlanStep,
} from '../../core/planner/plan-types.js';
import { faultTolerance, majoritySideOnPartition, quorumSize, votersFor } from '../../core/planner/quorum.js';
import { PlanBuilder } from '../../core/planner/plan-builder.js';
import { planContext, type PhasePlanner } from '../../core/planner/phases/context.js';
import { planPreflight } from '../../core/planner/phases/preflight.js';
import { planShrink } from '../../core/planner/phases/shrink.js';
import { planExpose } from '../../core/planner/phases/expose.js';
import { planDns } from '../../core/planner/phases/dns.js';
import { planJoin } from '../../core/planner/phases/join.js';
import { planLeader } from '../../core/planner/phases/leader.js';
import { planRetire } from '../../core/planner/phases/retire.js';
import { planFinalize } from '../../core/planner/phases/finalize.js';
import { planCleanup } from '../../core/planner/phases/cleanup.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { makeSpec, observedMembers, type baseSpecInput } from './fixtures/migration-spec.js';

const SIZES = [1, 2, 3, 4, 5, 6, 7];
type SpecInput = ReturnType<typeof baseSpecInput>;

function planFor(n: number, m: number, mutate: (s: SpecInput) => void = () => {}) {
  const spec = makeSpec((s) => {
    s.target.replicas = m;
    mutate(s);
  });
  const observed = observedMembers(n);
  return { spec, observed, plan: planMigration({ spec, observed: { members: observed } }) };
}

// Independent re-statements of the quorum math (not the code under test).
const tolerance = (voters: number) => Math.floor((voters - 1) / 2);
const ordinalOf = (name: string) => Number(name.slice(name.lastIndexOf('-') + 1));

type Role = 'voter' | 'learner';
function roles(state: MembershipState): Map<string, Role> {
  const map = new Map<string, Role>();
  for (const name of [...state.voters.old, ...state.voters.new]) map.set(name, 'voter');
  for (const name of [...state.learners.old, ...state.learners.new]) map.set(name, 'learner');
  return map;
}
function changes(before: MembershipState, after: MembershipState): string[] {
  const a = roles(before);
  const b = roles(after);
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((name) => a.get(name) !== b.get(name));
}
function initialState(observed: ObservedMember[]): MembershipState {
  const voters = observed.length;
  return {
    voters: { old: observed.map((o) => o.name), new: [] },
    learners: { old: [], new: [] },
    quorum: Math.floor(voters / 2) + 1,
    faultTolerance: tolerance(voters),
    majoritySideOnPartition: 'old',
  };
}
const isNeither = (s: MembershipState) => s.voters.old.length === s.voters.new.length;

type Cost = [wait: number, slow: number, total: number];
const SLOW_KINDS = new Set(['add-learner', 'scale-target', 'await-catch-up']);

/** How long the plan stays where neither side has a majority: [operator waits, slow steps, all steps]. */
function neitherCost(plan: MigrationPlan): Cost {
  const cost: Cost = [0, 0, 0];
  for (const step of plan.steps) {
    if (step.after.majoritySideOnPartition !== 'neither') continue;
    if (step.kind === 'gate') cost[0]++;
    else if (SLOW_KINDS.has(step.kind)) cost[1]++;
    cost[2]++;
  }
  return cost;
}

/**
 * Brute force over every sequence of membership steps from (n old, 0 new) voters to (0, m),
 * under the plan's rules: one change at a time; a new member is added as a learner, its pod
 * started, caught up, then promoted; at most one learner; fault tolerance never below
 * min(source's, target's); leadership moves to a new voter; the switch-clients gate needs the
 * leader on a new voter; hashKV is verified on old and new voters before any removal; removals
 * only after that gate. Steps that leave an even split cost [operator wait, slow, 1].
 * Lexicographic Dijkstra; returns the least cost and the least number of distinct even splits.
 */
function bruteForce(n: number, m: number): { cost: Cost; distinctNeither: number } {
  const F = Math.min(tolerance(n), tolerance(m));
  type State = {
    a: number;
    b: number;
    learner: number;
    leaderNew: boolean;
    gate: boolean;
    verified: boolean;
  };
  type Action = { next: State; cls: 'wait' | 'slow' | 'fast'; voterChange: boolean };
  const key = (s: State) => `${s.a},${s.b},${s.learner},${+s.leaderNew},${+s.gate},${+s.verified}`;
  const moves = (s: State): Action[] => {
    const out: Action[] = [];
    if (s.learner === 0 && s.b < m) out.push({ next: { ...s, learner: 1 }, cls: 'slow', voterChange: false });
    if (s.learner === 1) out.push({ next: { ...s, learner: 2 }, cls: 'slow', voterChange: false }); // start pod
    if (s.learner === 2) out.push({ next: { ...s, learner: 3 }, cls: 'slow', voterChange: false }); // catch up
    if (s.learner === 3) out.push({ next: { ...s, learner: 0, b: s.b + 1 }, cls: 'fast', voterChange: true });
    if (!s.leaderNew && s.b >= 1)
      out.push({ next: { ...s, leaderNew: true }, cls: 'fast', voterChange: false });
    if (!s.verified && s.b >= 1 && s.a === n)
      out.push({ next: { ...s, verified: true }, cls: 'fast', voterChange: false });
    if (!s.gate && s.leaderNew) out.push({ next: { ...s, gate: true }, cls: 'wait', voterChange: false });
    if (s.gate && s.verified && s.a >= 1)
      out.push({ next: { ...s, a: s.a - 1 }, cls: 'fast', voterChange: true });
    return out.filter(({ next }) => next.a + next.b >= 1 && tolerance(next.a + next.b) >= F);
  };
  const less = (x: number[], y: number[]) => {
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] ?? 0) < (y[i] ?? 0);
    return false;
  };
  const search = (price: (action: Action, from: State) => number[], width: number): number[] => {
    const start: State = { a: n, b: 0, learner: 0, leaderNew: false, gate: false, verified: false };
    const best = new Map<string, number[]>([[key(start), Array<number>(width).fill(0)]]);
    const states = new Map<string, State>([[key(start), start]]);
    const done = new Set<string>();
    for (;;) {
      let current: string | undefined;
      for (const [k, c] of best)
        if (!done.has(k) && (current === undefined || less(c, best.get(current) ?? []))) current = k;
      if (current === undefined) throw new Error(`no path for ${n} -> ${m}`);
      const state = states.get(current)!;
      const cost = best.get(current)!;
      if (state.a === 0 && state.b === m && state.learner === 0 && state.gate) return cost;
      done.add(current);
      for (const action of moves(state)) {
        const k = key(action.next);
        const extra = price(action, state);
        const total = cost.map((c, i) => c + (extra[i] ?? 0));
        const known = best.get(k);
        if (known === undefined || less(total, known)) {
          best.set(k, total);
          states.set(k, action.next);
        }
      }
    }
  };
  const cost = search(({ next, cls }) => {
    if (next.a !== next.b) return [0, 0, 0];
    return [cls === 'wait' ? 1 : 0, cls === 'slow' ? 1 : 0, 1];
  }, 3) as Cost;
  const [distinctNeither = 0] = search(
    ({ next, voterChange }) => [voterChange && next.a === next.b ? 1 : 0],
    1,
  );
  return { cost, distinctNeither };
}

/** The minimum, as a formula (derived in plan.ts's header comment; checked against the brute force below). */
function expectedNeitherCost(n: number, m: number): Cost {
  if (n >= 2) return [0, 0, 1];
  return m === 1 ? [1, 0, 4] : [0, 3, 4];
}

/** Asserts the safety rules of design.md on every step of a plan. */
/** The kinds of step that may run at the same time as others: each cluster's objects and DNS. */
const TOGETHER_KINDS = [
  'create-headless-service',
  'create-member-services',
  'await-load-balancers',
  'configure-dns',
  'cleanup-dns',
  'cleanup-member-services',
];

function checkPlan(plan: MigrationPlan, spec: MigrationSpec, observed: ObservedMember[]): void {
  const n = observed.length;
  const m = spec.target.replicas ?? n;
  const f0 = tolerance(n);
  const required = Math.min(f0, tolerance(m));
  expect(plan.requiredFaultTolerance).toBe(required);
  const newNames = Array.from({ length: m }, (_, i) => `${spec.target.statefulSet}-${i}`);
  const scheme = spec.tls.peer ? 'https' : 'http';
  const clientScheme = spec.tls.client ? 'https' : 'http';
  const peerURLs = new Map<string, string[]>([
    ...observed.map((o): [string, string[]] => [o.name, o.peerURLs]),
    ...newNames.map((name): [string, string[]] => [
      name,
      [`${scheme}://${name}.${spec.target.service}:2380`],
    ]),
  ]);

  // Stable, unique ids.
  expect(new Set(plan.steps.map((s) => s.id)).size).toBe(plan.steps.length);
  // Phases in order, as listed.
  const phases = plan.steps.map((s) => s.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);
  expect(plan.phases).toEqual(phases);
  expect(phases.map((p) => PHASES.indexOf(p))).toEqual(
    [...phases.map((p) => PHASES.indexOf(p))].sort((x, y) => x - y),
  );

  // Steps that run together: next to each other, of one phase, two or more, none a gate or a
  // membership change, and none changing the membership state.
  const groups = new Map<string, number[]>();
  plan.steps.forEach((s, i) => {
    if (s.together !== undefined) groups.set(s.together, [...(groups.get(s.together) ?? []), i]);
  });
  for (const [key, at] of groups) {
    expect(at.length, key).toBeGreaterThanOrEqual(2);
    expect(at, key).toEqual(at.map((_, k) => at[0]! + k));
    const steps = at.map((i) => plan.steps[i]!);
    expect(new Set(steps.map((s) => s.phase)).size, key).toBe(1);
    for (const step of steps) {
      expect(TOGETHER_KINDS, step.id).toContain(step.kind);
      expect(step.after, step.id).toEqual(plan.steps[at[0]! - 1]!.after);
    }
  }

  let before = initialState(observed);
  let leader = 'some-old-member'; // a new member's name once leadership moved
  let firstRemovalSeen = false;
  let switchGateSeen = false;
  let cleanupGateSeen = false;
  let nextRemoval = n - 1;
  const removed: string[] = [];
  const stopped: string[] = [];
  let sourceReplicas = n;
  const caughtUp = new Set<string>();
  const started = new Set<string>();

  plan.steps.forEach((step: PlanStep, index) => {
    const where = `${n}->${m} step ${index + 1} ${step.id}`;
    const { after } = step;
    const voters = after.voters.old.length + after.voters.new.length;

    // The numbers shown are right.
    expect(after.quorum, where).toBe(Math.floor(voters / 2) + 1);
    expect(after.faultTolerance, where).toBe(tolerance(voters));
    const expectedSide =
      after.voters.old.length > voters / 2 ? 'old' : after.voters.new.length > voters / 2 ? 'new' : 'neither';
    expect(after.majoritySideOnPartition, where).toBe(expectedSide);

    // Rule 1: at most one membership change per step, and only by a membership step.
    const changed = changes(before, after);
    const membershipKinds = ['add-learner', 'promote', 'remove-member'];
    expect(changed.length, where).toBe(membershipKinds.includes(step.kind) ? 1 : 0);

    // Rule 3: fault tolerance never below the source's (the target's, if smaller, once old members leave).
    expect(after.faultTolerance, where).toBeGreaterThanOrEqual(required);
    if (!firstRemovalSeen && step.kind !== 'remove-member') {
      expect(after.faultTolerance, where).toBeGreaterThanOrEqual(f0);
    }

    // Rule 2: never more than one learner; learners are new members.
    expect(after.learners.old, where).toEqual([]);
    expect(after.learners.new.length, where).toBeLessThanOrEqual(1);

    switch (step.kind) {
      case 'add-learner':
        expect(step.member, where).toBe(newNames[ordinalOf(step.member)]);
        expect(step.peerURLs, where).toEqual(peerURLs.get(step.member));
        caughtUp.delete(step.member);
        break;
      case 'scale-target': {
        // The pod starts right after its member was added (never for a member that was not added).
        const previous = plan.steps[index - 1];
        expect(previous?.kind === 'add-learner' && previous.member === step.member, where).toBe(true);
        expect(step.replicas, where).toBe(ordinalOf(step.member) + 1);
        // --initial-cluster: every current member plus itself, name=peerURL, comma-separated.
        const members = [
          ...before.voters.old,
          ...[...before.voters.new, ...before.learners.new].sort((x, y) => ordinalOf(x) - ordinalOf(y)),
        ];
        expect(members, where).toContain(step.member);
        const expected = members
          .flatMap((name) => (peerURLs.get(name) ?? []).map((url) => `${name}=${url}`))
          .join(',');
        expect(step.initialCluster, where).toBe(expected);
        started.add(step.member);
        break;
      }
      case 'await-catch-up':
        expect(before.learners.new, where).toContain(step.member);
        expect(started.has(step.member), where).toBe(true);
        caughtUp.add(step.member);
        break;
      case 'promote': {
        // Promoted only right after an await-catch-up of that learner.
        const previous = plan.steps[index - 1];
        expect(previous?.kind === 'await-catch-up' && previous.member === step.member, where).toBe(true);
        expect(caughtUp.has(step.member), where).toBe(true);
        expect(before.learners.new, where).toContain(step.member);
        expect(after.voters.new, where).toContain(step.member);
        break;
      }
      case 'move-leader':
        // Rule 4: the leader goes to a new voter before any removal.
        expect(after.voters.new, where).toContain(step.to);
        expect(step.phase, where).toBe('leader');
        leader = step.to;
        break;
      case 'gate':
        expect(step.gate, where).toBe(
          GATE_BEFORE_PHASE[step.phase as Exclude<typeof step.phase, 'preflight'>],
        );
        expect(step.approval, where).toBe(spec.gates[step.gate]);
        if (step.gate === 'switch-clients') {
          switchGateSeen = true;
          expect(newNames, where).toContain(leader);
          expect(step.clientEndpoints, where).toEqual(
            after.voters.new.map((name) => `${clientScheme}://${name}.${spec.target.service}:2379`),
          );
          expect(step.clientEndpoints?.length, where).toBeGreaterThan(0);
        }
        if (step.gate === 'cleanup') cleanupGateSeen = true;
        break;
      case 'remove-member':
        // Only after the client switch; never the leader; highest ordinal first.
        expect(switchGateSeen, where).toBe(true);
        expect(step.phase, where).toBe('retire');
        expect(leader, where).not.toBe('some-old-member');
        expect(step.member, where).not.toBe(leader);
        expect(step.member, where).toBe(`${spec.source.statefulSet}-${nextRemoval}`);
        expect(step.id, where).toBe(`retire/${step.member}/remove-member`);
        expect(step.memberId, where).toBe(observed.find((o) => o.name === step.member)?.id);
        nextRemoval--;
        firstRemovalSeen = true;
        removed.push(step.member);
        break;
      case 'scale-source': {
        // Rule 5: a member leaves etcd before its pod stops; scale-down stops the highest ordinals,
        // one pod at a time (scaleSource refuses to stop more than one).
        expect(step.replicas, where).toBe(sourceReplicas - 1);
        for (const pod of step.stops) {
          expect(removed, where).toContain(pod);
          expect(stopped, where).not.toContain(pod);
        }
        const expectedStops = Array.from(
          { length: sourceReplicas - step.replicas },
          (_, i) => `${spec.source.statefulSet}-${sourceReplicas - 1 - i}`,
        );
        expect(step.stops, where).toEqual(expectedStops);
        sourceReplicas = step.replicas;
        stopped.push(...step.stops);
        break;
      }
      case 'cleanup-source-pvcs':
        // Rule 8: old PVCs stay until the cleanup gate.
        expect(cleanupGateSeen, where).toBe(true);
        expect(spec.cleanup.deletePVCs, where).toBe(true);
        break;
      case 'finalize-target':
        expect(step.initialCluster, where).toBe(
          newNames.map((name) => `${name}=${scheme}://${name}.${spec.target.service}:2380`).join(','),
        );
        break;
      default:
        break;
    }
    // A phase boundary is always a gate, and every gate sits at a boundary.
    const previous = plan.steps[index - 1];
    if (previous !== undefined) expect(step.phase !== previous.phase, where).toBe(step.kind === 'gate');
    before = after;
  });

  // End: exactly the target members, all voters; every old member removed and stopped.
  expect(before.voters.new).toEqual(newNames);
  expect(before.voters.old).toEqual([]);
  expect(before.learners.new).toEqual([]);
  expect(removed).toEqual(observed.map((o) => o.name).reverse());
  expect(stopped).toEqual(observed.map((o) => o.name).reverse());
  expect(sourceReplicas).toBe(0);
  expect(leader).toBe(newNames[0]);
}

describe('quorum math', () => {
  it('quorum, fault tolerance, voters needed', () => {
    expect(SIZES.map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(SIZES.map(faultTolerance)).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect([0, 1, 2, 3].map(votersFor)).toEqual([1, 3, 5, 7]);
    expect(() => quorumSize(0)).toThrow(RangeError);
    expect(() => faultTolerance(-1)).toThrow(RangeError);
  });

  it('majority side when the link between the clusters breaks', () => {
    expect(majoritySideOnPartition(3, 0)).toBe('old');
    expect(majoritySideOnPartition(3, 2)).toBe('old');
    expect(majoritySideOnPartition(3, 3)).toBe('neither');
    expect(majoritySideOnPartition(2, 3)).toBe('new');
    expect(majoritySideOnPartition(1, 1)).toBe('neither');
    expect(majoritySideOnPartition(0, 1)).toBe('new');
    expect(() => majoritySideOnPartition(0, 0)).toThrow(RangeError);
    for (const a of SIZES)
      for (const b of SIZES) expect(majoritySideOnPartition(a, b) === 'neither').toBe(a === b);
  });
});

describe('planner: every source size 1..7 x target size 1..7', () => {
  for (const n of SIZES) {
    for (const m of SIZES) {
      it(`${n} -> ${m}: safety rules hold on every step; the even split is as short as possible`, () => {
        const { spec, observed, plan } = planFor(n, m);
        checkPlan(plan, spec, observed);

        const states = [initialState(observed), ...plan.steps.map((s) => s.after)];
        const neitherStates = new Set(
          states.filter(isNeither).map((s) => `${s.voters.old.length}/${s.voters.new.length}`),
        );
        const minimum = bruteForce(n, m);
        expect(minimum.distinctNeither).toBe(1);
        expect(neitherStates.size).toBe(minimum.distinctNeither);
        expect(minimum.cost).toEqual(expectedNeitherCost(n, m));
        expect(neitherCost(plan)).toEqual(minimum.cost);

        if (n >= 2) {
          // Exactly one step leaves an even split, and the next step is a removal that ends it.
          const index = plan.steps.findIndex((s) => s.after.majoritySideOnPartition === 'neither');
          expect(plan.steps[index]?.kind).toBe(m >= n ? 'promote' : 'remove-member');
          expect(plan.steps[index + 1]?.kind).toBe('remove-member');
          expect(plan.steps[index + 1]?.after.majoritySideOnPartition).toBe('new');
        }
        // A promote between the leader move and the first removal waits for no proof of the
        // learner's link: its catch-up in join, before the leader moved, took it.
        const moved = plan.steps.findIndex((s) => s.kind === 'move-leader');
        const firstRemoval = plan.steps.findIndex((s) => s.kind === 'remove-member');
        const latePromotes = plan.steps.flatMap((s, i) =>
          s.kind === 'promote' && i > moved && i < firstRemoval ? [s.member] : [],
        );
        const proved = plan.steps.flatMap((s, i) =>
          s.kind === 'await-catch-up' && s.proveLink ? [{ member: s.member, i, phase: s.phase }] : [],
        );
        expect(proved.map((p) => p.member)).toEqual(latePromotes);
        for (const p of proved) expect(p.i < moved && p.phase === 'join').toBe(true);
        // The client switch happens while the old side still holds the majority (n >= 2),
        // and the plan stays plain JSON.
        const gate = plan.steps.find((s) => s.kind === 'gate' && s.gate === 'switch-clients');
        if (n >= 2) expect(gate?.after.majoritySideOnPartition).toBe('old');
        expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
      });
    }
  }

  it('the same rules hold with TLS, other names, no shrink, manual gates and PVC deletion', () => {
    for (const n of SIZES) {
      for (const m of SIZES) {
        const spec = makeSpec((s) => {
          s.source.statefulSet = 'db';
          s.source.service = 'db-peers';
          Object.assign(s.target, { statefulSet: 'db-next', service: 'db-next-peers', replicas: m });
          Object.assign(s, {
            tls: { peer: { secret: { name: 'peer-tls' } }, client: { secret: { name: 'client-tls' } } },
            shrink: { enabled: false },
            gates: Object.fromEntries(
              Object.keys(GATE_BEFORE_PHASE).map((p) => [
                GATE_BEFORE_PHASE[p as keyof typeof GATE_BEFORE_PHASE],
                'manual',
              ]),
            ),
            cleanup: { deletePVCs: true },
          });
        });
        const observed = observedMembers(n, 'db', 'db-peers', 'https').map((o) => ({
          ...o,
          peerURLs: [o.peerURLs[0] ?? '', `https://${o.name}.db-peers.default.svc.cluster.local:2380`],
        }));
        const plan = planMigration({ spec, observed: { members: observed } });
        checkPlan(plan, spec, observed);
        expect(neitherCost(plan)).toEqual(expectedNeitherCost(n, m));
        expect(plan.phases).not.toContain('shrink');
        expect(
          plan.steps
            .filter((s) => s.kind === 'gate')
            .every((s) => s.kind === 'gate' && s.approval === 'manual'),
        ).toBe(true);
        expect(plan.steps.some((s) => s.kind === 'cleanup-source-pvcs')).toBe(true);
      }
    }
  });
});

describe('planner: the article scenario, 3 -> 3', () => {
  const { plan } = planFor(3, 3);

  it('has exactly these steps', () => {
    expect(plan.steps.map((s) => s.id)).toEqual([
      'preflight/preflight-checks',
      'gate/shrink',
      'shrink/compact',
      'shrink/rolling-defragment',
      'gate/expose',
      'expose/target/create-headless-service',
      'expose/source/create-member-services',
      'expose/target/create-member-services',
      'expose/source/await-load-balancers',
      'expose/target/await-load-balancers',
      'gate/dns',
      'dns/source/configure-dns',
      'dns/target/configure-dns',
      'gate/join',
      'join/etcd-main-0/add-learner',
      'join/etcd-main-0/scale-target',
      'join/etcd-main-0/await-catch-up',
      'join/etcd-main-0/promote',
      'join/etcd-main-1/add-learner',
      'join/etcd-main-1/scale-target',
      'join/etcd-main-1/await-catch-up',
      'join/etcd-main-1/promote',
      'join/etcd-main-2/add-learner',
      'join/etcd-main-2/scale-target',
      'join/etcd-main-2/await-catch-up',
      'join/end/verify-consistency',
      'gate/leader',
      'leader/move-leader',
      'gate/switch-clients',
      'retire/start/verify-consistency',
      'retire/etcd-main-2/await-catch-up',
      'retire/etcd-main-2/promote',
      'retire/etcd-2/remove-member',
      'retire/etcd-2/scale-source',
      'retire/etcd-1/remove-member',
      'retire/etcd-1/scale-source',
      'retire/etcd-0/remove-member',
      'retire/etcd-0/scale-source',
      'retire/end/verify-consistency',
      'gate/finalize',
      'finalize/etcd-main/finalize-target',
      'finalize/soak',
      'gate/cleanup',
      'cleanup/target/cleanup-dns',
      'cleanup/source/cleanup-member-services',
      'cleanup/source/cleanup-source-statefulset',
    ]);
  });

  it("runs each cluster's Services, load-balancer waits, DNS changes and their cleanup together", () => {
    const together = plan.steps.filter((s) => s.together).map((s) => `${s.together}: ${s.id}`);
    expect(together).toEqual([
      'expose/services: expose/target/create-headless-service',
      'expose/services: expose/source/create-member-services',
      'expose/services: expose/target/create-member-services',
      'expose/load-balancers: expose/source/await-load-balancers',
      'expose/load-balancers: expose/target/await-load-balancers',
      'dns/configure: dns/source/configure-dns',
      'dns/configure: dns/target/configure-dns',
      'cleanup/between-clusters: cleanup/target/cleanup-dns',
      'cleanup/between-clusters: cleanup/source/cleanup-member-services',
    ]);
  });

  it('computes the --initial-cluster of each new member exactly', () => {
    const initial = plan.steps.flatMap((s) => (s.kind === 'scale-target' ? [s.initialCluster] : []));
    expect(initial).toEqual([
      'etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,etcd-main-0=http://etcd-main-0.etcd-main:2380',
      'etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,etcd-main-0=http://etcd-main-0.etcd-main:2380,etcd-main-1=http://etcd-main-1.etcd-main:2380',
      'etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,etcd-main-0=http://etcd-main-0.etcd-main:2380,etcd-main-1=http://etcd-main-1.etcd-main:2380,etcd-main-2=http://etcd-main-2.etcd-main:2380',
    ]);
  });

  it('configures DNS both ways with the default strategies', () => {
    const dns = plan.steps.filter((s) => s.kind === 'configure-dns');
    expect(dns).toMatchObject([
      {
        cluster: 'source',
        strategy: { strategy: 'coredns-hosts', namespace: 'kube-system', configMap: 'coredns' },
        entries: [
          { member: 'etcd-main-0', hostnames: ['etcd-main-0', 'etcd-main-0.etcd-main'] },
          { member: 'etcd-main-1', hostnames: ['etcd-main-1', 'etcd-main-1.etcd-main'] },
          { member: 'etcd-main-2', hostnames: ['etcd-main-2', 'etcd-main-2.etcd-main'] },
        ],
      },
      {
        cluster: 'target',
        strategy: { strategy: 'host-aliases' },
        entries: [
          { member: 'etcd-0', hostnames: ['etcd-0', 'etcd-0.etcd'] },
          { member: 'etcd-1', hostnames: ['etcd-1', 'etcd-1.etcd'] },
          { member: 'etcd-2', hostnames: ['etcd-2', 'etcd-2.etcd'] },
        ],
      },
    ]);
  });

  it('tolerates one failure on every step, and is deterministic', () => {
    expect(plan.steps.every((s) => s.after.faultTolerance >= 1)).toBe(true);
    expect(planFor(3, 3).plan).toEqual(plan);
    expect(plan.requiredFaultTolerance).toBe(1);
  });
});

describe('planner: inputs and options', () => {
  it('takes member names and peer URLs from the observed member list', () => {
    const spec = makeSpec((s) => {
      s.target.replicas = 3;
    });
    const observed = observedMembers(3).map((o) => ({
      ...o,
      peerURLs: [`http://${o.name}.etcd.default.svc.cluster.local:2380`],
    }));
    const plan = planMigration({ spec, observed: { members: [...observed].reverse() } });
    checkPlan(plan, spec, observed);
    const first = plan.steps.find((s) => s.kind === 'scale-target');
    expect(first?.kind === 'scale-target' && first.initialCluster).toBe(
      'etcd-0=http://etcd-0.etcd.default.svc.cluster.local:2380,etcd-1=http://etcd-1.etcd.default.svc.cluster.local:2380,etcd-2=http://etcd-2.etcd.default.svc.cluster.local:2380,etcd-main-0=http://etcd-main-0.etcd-main:2380',
    );
    const dns = plan.steps.find((s) => s.kind === 'configure-dns' && s.cluster === 'target');
    expect(dns?.kind === 'configure-dns' && dns.entries[0]).toEqual({
      member: 'etcd-0',
      hostnames: ['etcd-0', 'etcd-0.etcd', 'etcd-0.etcd.default.svc.cluster.local'],
    });
    const removal = plan.steps.find((s) => s.kind === 'remove-member');
    expect(removal?.kind === 'remove-member' && removal.memberId).toBe(observed[2]?.id);
  });

  it('defaults the target size to the source size', () => {
    const spec = makeSpec();
    const plan = planMigration({ spec, observed: { members: observedMembers(5) } });
    expect(plan.target.members.map((m) => m.name)).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
      'etcd-main-3',
      'etcd-main-4',
    ]);
    expect(() => planMigration({ spec, observed: { members: observedMembers(9) } })).toThrow(/set it/);
  });

  it('uses https peer and client URLs when TLS is configured', () => {
    const { plan } = planFor(3, 3, (s) => {
      Object.assign(s, {
        tls: { peer: { secret: { name: 'p' } }, client: { issueFrom: { caSecret: 'ca' } } },
      });
    });
    const add = plan.steps.find((s) => s.kind === 'add-learner');
    expect(add?.kind === 'add-learner' && add.peerURLs).toEqual(['https://etcd-main-0.etcd-main:2380']);
    expect(plan.target.clientURLs[0]).toBe('https://etcd-main-0.etcd-main:2379');
    expect(plan.warnings.some((w) => /old members advertise http peer URLs/.test(w))).toBe(true);
  });

  it('needs no load balancers or DNS inside one cluster and namespace', () => {
    const { spec, observed, plan } = planFor(3, 3, (s) => {
      s.target.context = 'source';
    });
    checkPlan(plan, spec, observed);
    expect(plan.phases).toEqual([
      'preflight',
      'shrink',
      'expose',
      'join',
      'leader',
      'retire',
      'finalize',
      'cleanup',
    ]);
    const kinds = plan.steps.map((s) => s.kind);
    for (const kind of [
      'create-member-services',
      'await-load-balancers',
      'configure-dns',
      'cleanup-dns',
      'cleanup-member-services',
    ]) {
      expect(kinds).not.toContain(kind);
    }
    // One step per phase where the clusters' steps ran together: nothing runs together.
    expect(plan.steps.some((s) => s.together)).toBe(false);
  });

  it('cleans up only what the spec asks for', () => {
    const defaults = planFor(3, 3).plan.steps.map((s) => s.id);
    expect(defaults.filter((id) => id.startsWith('cleanup/'))).toEqual([
      'cleanup/target/cleanup-dns',
      'cleanup/source/cleanup-member-services',
      'cleanup/source/cleanup-source-statefulset',
    ]);
    const all = planFor(3, 3, (s) =>
      Object.assign(s, {
        cleanup: { deletePVCs: true, removeSourceClusterDns: true, deleteTargetMemberServices: true },
      }),
    ).plan.steps.map((s) => s.id);
    expect(all.filter((id) => id.startsWith('cleanup/'))).toEqual([
      'cleanup/target/cleanup-dns',
      'cleanup/source/cleanup-dns',
      'cleanup/source/cleanup-member-services',
      'cleanup/target/cleanup-member-services',
      'cleanup/source/cleanup-source-statefulset',
      'cleanup/source/cleanup-source-pvcs',
    ]);
  });

  it('plans a soak step only for a soak longer than 0', () => {
    const soaks = (soak: string) =>
      planFor(3, 3, (s) => Object.assign(s, { soak })).plan.steps.filter((s) => s.kind === 'soak');
    expect(soaks('0s')).toEqual([]);
    expect(soaks('5s').map((s) => s.id)).toEqual(['finalize/soak']);
  });

  it('warns loudly about load balancers open to anyone, smaller targets and single members', () => {
    const open = planFor(3, 3, (s) => {
      s.target.loadBalancer = { allowAnyone: true };
    }).plan;
    expect(
      open.warnings.some(
        (w) => w.startsWith('!!! target.loadBalancer.allowAnyone') && w.includes('0.0.0.0/0'),
      ),
    ).toBe(true);
    expect(planFor(3, 3).plan.warnings.some((w) => w.includes('allowAnyone'))).toBe(false);
    expect(
      planFor(5, 3).plan.warnings.some((w) =>
        /tolerates 1 failure, the source \(5 members\) tolerates 2/.test(w),
      ),
    ).toBe(true);
    expect(planFor(3, 4).plan.warnings.some((w) => /target size 4 is even/.test(w))).toBe(true);
    expect(planFor(1, 1).plan.warnings.some((w) => /approve switch-clients promptly/.test(w))).toBe(true);
  });

  it('refuses observed memberships it cannot plan safely', () => {
    const spec = makeSpec((s) => {
      s.target.replicas = 3;
    });
    const plan = (members: ObservedMember[]) => () => planMigration({ spec, observed: { members } });
    const three = observedMembers(3);
    expect(plan([])).toThrow(PlanError);
    expect(plan([...three.slice(0, 2), { ...three[2]!, isLearner: true }])).toThrow(/etcd-2 is a learner/);
    expect(plan([...three.slice(0, 2), { ...three[2]!, name: '' }])).toThrow(/has not started/);
    expect(plan([three[0]!, three[2]!])).toThrow(/not exactly etcd-0..etcd-1/);
    expect(
      plan([
        ...three,
        { name: 'etcd-main-0', peerURLs: ['http://etcd-main-0.etcd-main:2380'], isLearner: false },
      ]),
    ).toThrow(/already carries a target member name/);
    expect(plan([...three.slice(0, 2), { ...three[2]!, name: 'node-c' }])).toThrow(
      /not a pod of StatefulSet etcd/,
    );
    expect(plan([...three.slice(0, 2), { ...three[2]!, peerURLs: ['http://10.1.2.3:2380'] }])).toThrow(
      /by IP/,
    );
  });
});

describe('planner: the minimum derived by hand matches the brute force', () => {
  it('formula for every size pair', () => {
    const table: string[] = [];
    for (const n of SIZES) {
      table.push(SIZES.map((m) => bruteForce(n, m).cost.join('/')).join(' '));
      for (const m of SIZES) expect(bruteForce(n, m).cost).toEqual(expectedNeitherCost(n, m));
    }
    expect(table[0]).toBe('1/0/4 0/3/4 0/3/4 0/3/4 0/3/4 0/3/4 0/3/4');
    expect(table[2]).toBe('0/0/1 0/0/1 0/0/1 0/0/1 0/0/1 0/0/1 0/0/1');
  });
});

describe('planner: the rule checker itself catches broken plans', () => {
  const { spec, observed, plan } = planFor(3, 3);
  const broken = (edit: (steps: PlanStep[]) => PlanStep[]) => () =>
    checkPlan({ ...plan, steps: edit(structuredClone(plan.steps)) }, spec, observed);
  const at = (steps: PlanStep[], id: string) => steps.findIndex((s) => s.id === id);

  it('accepts the real plan', () => {
    expect(broken((steps) => steps)).not.toThrow();
  });
  it('no move-leader before the first removal', () => {
    expect(broken((steps) => steps.filter((s) => s.kind !== 'move-leader'))).toThrow();
  });
  it('promote without a catch-up right before it', () => {
    expect(broken((steps) => steps.filter((s) => s.id !== 'retire/etcd-main-2/await-catch-up'))).toThrow();
  });
  it('removals in the wrong order', () => {
    expect(
      broken((steps) => {
        const a = at(steps, 'retire/etcd-1/remove-member');
        const b = at(steps, 'retire/etcd-0/remove-member');
        [steps[a], steps[b]] = [steps[b]!, steps[a]!];
        return steps;
      }),
    ).toThrow();
  });
  it('a pod stopped before its member left', () => {
    expect(
      broken((steps) => {
        const a = at(steps, 'retire/etcd-2/remove-member');
        const b = at(steps, 'retire/etcd-2/scale-source');
        [steps[a], steps[b]] = [steps[b]!, steps[a]!];
        return steps;
      }),
    ).toThrow();
  });
  it('a wrong --initial-cluster', () => {
    expect(
      broken((steps) =>
        steps.map((s) =>
          s.kind === 'scale-target' && s.member === 'etcd-main-1'
            ? { ...s, initialCluster: s.initialCluster.replace('etcd-0=http://etcd-0.etcd:2380,', '') }
            : s,
        ),
      ),
    ).toThrow();
  });
  it('a missing gate', () => {
    expect(broken((steps) => steps.filter((s) => s.id !== 'gate/leader'))).toThrow();
  });
});

describe('planner: offline dry run', () => {
  it('assumedSourceMembers stands in for the member list of the article setup', () => {
    const spec = makeSpec((s) => {
      s.target.replicas = 5;
    });
    const members = assumedSourceMembers(spec, 3);
    expect(members).toEqual(observedMembers(3).map(({ id: _id, ...rest }) => rest));
    const plan = planMigration({ spec, observed: { members } });
    checkPlan(plan, spec, members);
    const gate = plan.steps.find((s) => s.kind === 'gate' && s.gate === 'switch-clients');
    expect(gate?.title).toMatch(/\(etcd-main-2, etcd-main-3, etcd-main-4 become voters during retire\)$/);
  });
});

describe('planner: one function per phase', () => {
  const planners: Record<(typeof PHASES)[number], PhasePlanner> = {
    preflight: planPreflight,
    shrink: planShrink,
    expose: planExpose,
    dns: planDns,
    join: planJoin,
    leader: planLeader,
    retire: planRetire,
    finalize: planFinalize,
    cleanup: planCleanup,
  };

  it('each phase planner adds only its own phase (its gate first), and in PHASES order they make the plan', () => {
    for (const n of SIZES) {
      for (const m of SIZES) {
        const spec = makeSpec((s) => {
          s.target.replicas = m;
          s.tls = { peer: { issueFrom: { caSecret: 'etcd-ca' } } };
        });
        const input = { spec, observed: { members: observedMembers(n) } };
        const ctx = planContext(input);
        const b = new PlanBuilder(spec, ctx.oldMembers, ctx.newMembers);
        for (const phase of PHASES) {
          const before = b.steps.length;
          planners[phase](b, ctx);
          const added = b.steps.slice(before);
          expect(added.length, phase).toBeGreaterThan(0);
          expect(new Set(added.map((step) => step.phase)), phase).toEqual(new Set([phase]));
          if (phase !== 'preflight') expect(added[0]?.id, phase).toBe(`gate/${GATE_BEFORE_PHASE[phase]}`);
        }
        expect(b.steps).toEqual(planMigration(input).steps);
      }
    }
  });
});
