import { describe, expect, it } from 'vitest';
import { planMigration, PlanError } from '../../core/planner/plan.js';
import type { ObservedMember, PlanStep } from '../../core/planner/plan-types.js';
import { planResume, type ResumeObservation } from '../../core/planner/resume.js';
import { sourceMembersOf } from '../../activities/kubernetes/target-statefulset.js';
import { makeSpec, observedMembers } from './fixtures/migration-spec.js';

/** The kinds whose effect shows in the member list or in a StatefulSet's replicas. */
const OBSERVABLE = new Set(['add-learner', 'promote', 'remove-member', 'scale-target', 'scale-source']);

function forward(n: number, m: number) {
  const spec = makeSpec((s) => {
    s.target.replicas = m;
  });
  const source = observedMembers(n);
  return { spec, source, plan: planMigration({ spec, observed: { members: source } }) };
}

/**
 * What the clusters show once `steps[0..k]` ran, built from the steps themselves: a learner
 * whose pod was not started yet has no name; removed members' pods run until their scale-down.
 */
function worldAfter(
  spec: ReturnType<typeof forward>['spec'],
  source: ObservedMember[],
  steps: PlanStep[],
  k: number,
): ResumeObservation {
  let sourceReplicas = source.length;
  let targetReplicas: number | null = null;
  const started = new Set<string>();
  for (const step of steps.slice(0, k + 1)) {
    if (step.kind === 'scale-source') sourceReplicas = step.replicas;
    if (step.kind === 'scale-target') {
      targetReplicas = step.replicas;
      started.add(step.member);
    }
  }
  const after = steps[k]!.after;
  const peer = (name: string) => `http://${name}.${spec.target.service}:2380`;
  const members: ObservedMember[] = [
    ...source.filter((o) => after.voters.old.includes(o.name)),
    ...after.voters.new.map((name) => ({ name, peerURLs: [peer(name)], isLearner: false })),
    ...after.learners.new.map((name) => ({
      name: started.has(name) ? name : '',
      id: `learner-${name}`,
      peerURLs: [peer(name)],
      isLearner: true,
    })),
  ];
  const startedFrom = source.map(({ name, peerURLs }) => ({ name, peerURLs, isLearner: false }));
  return { members, startedFrom, sourceReplicas, targetReplicas };
}

describe('resume: every state a plan passes through is recognised and only the rest is planned', () => {
  for (const [n, m] of [
    [3, 3],
    [3, 5],
    [5, 3],
    [1, 3],
    [4, 2],
  ] as const) {
    it(`${n} -> ${m}: after each step`, () => {
      const { spec, source, plan } = forward(n, m);
      for (let k = 0; k < plan.steps.length; k++) {
        const step = plan.steps[k]!;
        if (step.phase === 'cleanup') break; // the source StatefulSet goes: covered below
        const resumed = planResume(spec, worldAfter(spec, source, plan.steps, k));
        // The last step up to k whose effect can be seen: everything up to it is adopted, nothing after.
        let last = -1;
        for (let i = 0; i <= k; i++) if (OBSERVABLE.has(plan.steps[i]!.kind)) last = i;
        const adopted = resumed.plan.steps.map((s) => s.adopted === true);
        expect(adopted, `after ${step.id}`).toEqual(plan.steps.map((_, i) => i <= last));
        // Same steps, same order, same membership after each: the plan is the original one.
        expect(resumed.plan.steps.map((s) => [s.id, s.after])).toEqual(
          plan.steps.map((s) => [s.id, s.after]),
        );
      }
    });
  }

  it('a member added but not started is the add-learner step done, its scale-target not', () => {
    const { spec, source, plan } = forward(3, 3);
    const k = plan.steps.findIndex((s) => s.id === 'join/etcd-main-1/add-learner');
    const resumed = planResume(spec, worldAfter(spec, source, plan.steps, k));
    const next = resumed.plan.steps.find((s) => !s.adopted);
    expect(next?.id).toBe('join/etcd-main-1/scale-target');
    expect(resumed.members.find((x) => x.isLearner)?.name).toBe('etcd-main-1');
  });

  it('a removed member whose pod still runs (the run failed at its scale-down) resumes at the scale-down', () => {
    const { spec, source, plan } = forward(3, 3);
    const k = plan.steps.findIndex((s) => s.id === 'retire/etcd-2/remove-member');
    const resumed = planResume(spec, worldAfter(spec, source, plan.steps, k));
    const pending = resumed.plan.steps.filter((s) => !s.adopted).map((s) => s.id);
    expect(pending[0]).toBe('retire/etcd-2/scale-source');
    expect(pending).not.toContain('gate/switch-clients');
    expect(pending).toContain('retire/etcd-1/remove-member');
  });

  it('after the source StatefulSet was deleted, only the rest of the cleanup runs', () => {
    const { spec, source, plan } = forward(3, 3);
    const members = observedMembers(3, 'etcd-main', 'etcd-main');
    const resumed = planResume(spec, {
      members,
      startedFrom: source,
      sourceReplicas: null,
      targetReplicas: 3,
    });
    const pending = resumed.plan.steps.filter((s) => !s.adopted).map((s) => s.kind);
    const k = plan.steps.findIndex((s) => s.kind === 'cleanup-source-statefulset');
    expect(pending).toEqual(plan.steps.slice(k + 1).map((s) => s.kind));
  });

  it('refuses a state the plan does not pass through', () => {
    const { spec, source } = forward(3, 3);
    // etcd-0 removed before etcd-2: the plan removes the highest ordinal first.
    const members = [source[1]!, source[2]!, ...observedMembers(3, 'etcd-main', 'etcd-main')];
    expect(() =>
      planResume(spec, { members, startedFrom: source, sourceReplicas: 3, targetReplicas: 3 }),
    ).toThrow(PlanError);
    // A member that is neither side's.
    expect(() =>
      planResume(spec, {
        members: [...source, { name: 'other-0', peerURLs: ['http://other-0.x:2380'], isLearner: false }],
        startedFrom: source,
        sourceReplicas: 3,
        targetReplicas: null,
      }),
    ).toThrow(/neither/);
  });

  it('a reverse migration plans from a state in the middle of the forward retire', () => {
    // Forward 3 -> 3 stopped after retire/etcd-2/scale-source: etcd-0, etcd-1 and etcd-main-0..2 vote.
    const reverse = makeSpec((s) => {
      s.source = { ...s.source, statefulSet: 'etcd-main', service: 'etcd-main' };
      s.target = { ...s.target, statefulSet: 'etcd', service: 'etcd', replicas: 3 };
    });
    const members = [...observedMembers(3, 'etcd-main', 'etcd-main'), ...observedMembers(2, 'etcd', 'etcd')];
    const resumed = planResume(reverse, { members, sourceReplicas: 3, targetReplicas: 2 });
    const pending = resumed.plan.steps.filter((s) => !s.adopted);
    expect(pending[0]?.id).toBe('join/etcd-2/add-learner');
    expect(pending.map((s) => s.id)).toContain('retire/etcd-main-2/remove-member');
    expect(resumed.plan.steps.filter((s) => s.adopted).map((s) => s.id)).toContain('join/etcd-1/promote');
  });
});

describe('the source members the target StatefulSet records at its creation', () => {
  it("are the old members of the first member's --initial-cluster, which resume plans from", () => {
    const { spec, source, plan } = forward(3, 5);
    const first = plan.steps.find((s) => s.kind === 'scale-target')!;
    expect(first.kind === 'scale-target' && first.replicas).toBe(1);
    const recorded = JSON.parse(
      sourceMembersOf(spec, first.kind === 'scale-target' ? first.initialCluster : ''),
    ) as { name: string; peerURLs: string[] }[];
    expect(recorded).toEqual(source.map((m) => ({ name: m.name, peerURLs: m.peerURLs })));
  });
});
