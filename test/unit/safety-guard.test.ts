import { describe, expect, it } from 'vitest';
import {
  evaluateChange,
  faultTolerance,
  quorum,
  type ClusterChange,
  type GuardInput,
  type GuardMember,
  type GuardMemberObservation,
} from '../../core/safety-guard.js';

const voter = (n: number): GuardMember => ({
  id: `${100 + n}`,
  name: `etcd-${n}`,
  peerURLs: [`http://etcd-${n}.etcd:2380`],
  isLearner: false,
});
const learner = (name: string, id: string, started = true): GuardMember => ({
  id,
  name: started ? name : '',
  peerURLs: [`http://${name}.etcd-main:2380`],
  isLearner: true,
});

/** Every member reachable and healthy, everyone seeing the same list and leader. */
function healthy(
  members: GuardMember[],
  leaderId: string,
  listed: GuardMember[] = members,
): GuardMemberObservation[] {
  return members.map((m) => ({
    id: m.id,
    reachable: true,
    healthy: true,
    leaderId,
    ...(m.isLearner ? {} : { memberIds: listed.map((x) => x.id) }),
    alarms: [],
  }));
}

function input(
  change: ClusterChange,
  members: GuardMember[],
  observations = healthy(members, members[0]?.id ?? '0'),
  requiredFaultTolerance = 1,
): GuardInput {
  return { change, members, observations, requiredFaultTolerance };
}

const three = [voter(0), voter(1), voter(2)];
const codes = (v: ReturnType<typeof evaluateChange>): string[] => v.reasons.map((r) => r.code);

describe('quorum math', () => {
  it.each([
    [1, 1, 0],
    [2, 2, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
    [6, 4, 2],
    [7, 4, 3],
  ])('%i voters: quorum %i, fault tolerance %i', (v, q, ft) => {
    expect(quorum(v)).toBe(q);
    expect(faultTolerance(v)).toBe(ft);
  });
  it('handles an empty cluster', () => {
    expect(quorum(0)).toBe(0);
    expect(faultTolerance(0)).toBe(0);
  });
});

describe('safety guard: allowed changes of the stretch plan', () => {
  it('adds a learner to a healthy 3-member cluster', () => {
    const v = evaluateChange(
      input(
        { kind: 'add-learner', name: 'etcd-main-0', peerURLs: ['http://etcd-main-0.etcd-main:2380'] },
        three,
      ),
    );
    expect(v.allowed).toBe(true);
    expect(v.reasons).toEqual([]);
    expect(v).toMatchObject({
      votersBefore: 3,
      votersAfter: 3,
      faultToleranceBefore: 1,
      faultToleranceAfter: 1,
      leaderId: '100',
    });
    expect(v.summary).toMatch(/^allowed: add learner etcd-main-0/);
  });

  it('promotes the one learner present (3 -> 4 voters keeps fault tolerance 1)', () => {
    const members = [...three, learner('etcd-main-0', '900')];
    const v = evaluateChange(input({ kind: 'promote', memberId: '900' }, members));
    expect(v.allowed).toBe(true);
    expect(v).toMatchObject({ votersBefore: 3, votersAfter: 4, quorumAfter: 3, faultToleranceAfter: 1 });
  });

  it('removes an old follower from a stretched 6-member cluster (ft 2 -> 2)', () => {
    const members = [...three, voter(3), voter(4), voter(5)];
    const v = evaluateChange(input({ kind: 'remove', memberId: '102' }, members, healthy(members, '103')));
    expect(v.allowed).toBe(true);
    expect(v).toMatchObject({
      votersBefore: 6,
      votersAfter: 5,
      faultToleranceBefore: 2,
      faultToleranceAfter: 2,
    });
  });

  it('removes an old voter while a learner is present (only adding a second learner is refused)', () => {
    const members = [voter(0), voter(1), voter(2), voter(3), learner('etcd-main-1', '901')];
    const v = evaluateChange(input({ kind: 'remove', memberId: '102' }, members, healthy(members, '103')));
    expect(v.allowed).toBe(true);
  });

  it('removes a learner that never started (undo of an add): voters unchanged', () => {
    const members = [...three, learner('etcd-main-0', '900', false)];
    const obs = healthy(three, '100', members); // the learner never answered: no observation
    const v = evaluateChange(input({ kind: 'remove', memberId: '900' }, members, obs));
    expect(v.allowed).toBe(true);
    expect(v.votersAfter).toBe(3);
  });

  it('removes a dead voter when that restores fault tolerance (4 voters, the removed one down)', () => {
    const members = [...three, voter(3)];
    const obs = healthy(members, '100').map((o) =>
      o.id === '103' ? { ...o, reachable: false, healthy: false, error: 'connection refused' } : o,
    );
    const v = evaluateChange(input({ kind: 'remove', memberId: '103' }, members, obs));
    expect(v.allowed).toBe(true);
    expect(v.warnings.join()).toMatch(/being removed while down/);
  });

  it('allows maintenance during a NOSPACE alarm (that is how the alarm gets cleared)', () => {
    const obs = healthy(three, '100').map((o) => ({ ...o, alarms: ['NOSPACE'] }));
    expect(
      evaluateChange(input({ kind: 'maintenance', operation: 'defragment', memberId: '101' }, three, obs))
        .allowed,
    ).toBe(true);
    expect(evaluateChange(input({ kind: 'move-leader', memberId: '101' }, three, obs)).allowed).toBe(true);
  });
});

describe('safety guard: refusals', () => {
  it('refuses any change while a voter is unreachable', () => {
    const obs = healthy(three, '100').filter((o) => o.id !== '102');
    const v = evaluateChange(
      input({ kind: 'add-learner', name: 'n', peerURLs: ['http://n:2380'] }, three, obs),
    );
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['VoterUnreachable']);
    expect(v.reasons[0]).toMatchObject({ memberId: '102', memberName: 'etcd-2' });
    expect(v.summary).toMatch(/^refused: add learner n/);
  });

  it('refuses while a voter is reachable but unhealthy (linearizable read failed)', () => {
    const obs = healthy(three, '100').map((o) =>
      o.id === '101' ? { ...o, healthy: false, error: 'context deadline exceeded' } : o,
    );
    const v = evaluateChange(input({ kind: 'promote', memberId: '100' }, three, obs));
    expect(codes(v)).toContain('VoterUnhealthy');
  });

  it('refuses removing a healthy member while another voter is down', () => {
    const members = [...three, voter(3)];
    const obs = healthy(members, '100').map((o) =>
      o.id === '101' ? { ...o, reachable: false, healthy: false } : o,
    );
    const v = evaluateChange(input({ kind: 'remove', memberId: '103' }, members, obs));
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['VoterUnreachable']);
  });

  it('refuses removing the leader', () => {
    const v = evaluateChange(input({ kind: 'remove', memberId: '100' }, [...three, voter(3)]));
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['TargetIsLeader']);
    expect(v.reasons[0]?.message).toMatch(/move the leadership first/);
  });

  it('refuses a second learner', () => {
    const members = [...three, learner('etcd-main-0', '900')];
    const v = evaluateChange(
      input(
        { kind: 'add-learner', name: 'etcd-main-1', peerURLs: ['http://etcd-main-1.etcd-main:2380'] },
        members,
      ),
    );
    expect(codes(v)).toEqual(['LearnerAlreadyPresent']);
  });

  it('refuses a removal that lowers fault tolerance below the source cluster (3 -> 2 voters)', () => {
    const v = evaluateChange(input({ kind: 'remove', memberId: '102' }, three));
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['FaultToleranceTooLow']);
    expect(v).toMatchObject({ faultToleranceBefore: 1, faultToleranceAfter: 0, requiredFaultTolerance: 1 });
  });

  it('refuses 5 -> 4 voters when the source cluster tolerated 2 failures', () => {
    const five = [...three, voter(3), voter(4)];
    const v = evaluateChange(input({ kind: 'remove', memberId: '104' }, five, healthy(five, '100'), 2));
    expect(codes(v)).toEqual(['FaultToleranceTooLow']);
  });

  it('warns but does not refuse a change that keeps an already degraded fault tolerance', () => {
    const two = [voter(0), voter(1)];
    const v = evaluateChange(
      input({ kind: 'add-learner', name: 'n', peerURLs: ['http://n:2380'] }, two, healthy(two, '100')),
    );
    expect(v.allowed).toBe(true);
    expect(v.warnings.join()).toMatch(/below the source cluster/);
  });

  it('refuses when members disagree on the member list', () => {
    const obs = healthy(three, '100').map((o) =>
      o.id === '102' ? { ...o, memberIds: ['100', '101', '102', '555'] } : o,
    );
    const v = evaluateChange(
      input({ kind: 'add-learner', name: 'n', peerURLs: ['http://n:2380'] }, three, obs),
    );
    expect(codes(v)).toEqual(['MemberListDisagreement']);
    expect(v.reasons[0]?.message).toMatch(/555/);
  });

  it('refuses when voters disagree on the leader or none has one', () => {
    const split = healthy(three, '100').map((o) => (o.id === '102' ? { ...o, leaderId: '102' } : o));
    expect(codes(evaluateChange(input({ kind: 'maintenance', operation: 'compact' }, three, split)))).toEqual(
      ['NoLeader'],
    );
    const none = healthy(three, '0');
    expect(codes(evaluateChange(input({ kind: 'maintenance', operation: 'compact' }, three, none)))).toEqual([
      'NoLeader',
    ]);
  });

  it('refuses membership changes during an alarm', () => {
    const obs = healthy(three, '100').map((o) => (o.id === '101' ? { ...o, alarms: ['NOSPACE'] } : o));
    expect(
      codes(
        evaluateChange(input({ kind: 'add-learner', name: 'n', peerURLs: ['http://n:2380'] }, three, obs)),
      ),
    ).toEqual(['AlarmActive']);
  });

  it('refuses a peer URL that already belongs to a member', () => {
    const v = evaluateChange(
      input({ kind: 'add-learner', name: 'n', peerURLs: ['http://etcd-1.etcd:2380'] }, three),
    );
    expect(codes(v)).toEqual(['PeerURLInUse']);
  });

  it('refuses promoting a voter, a missing member or an unreachable learner', () => {
    expect(codes(evaluateChange(input({ kind: 'promote', memberId: '101' }, three)))).toEqual([
      'TargetNotLearner',
    ]);
    expect(codes(evaluateChange(input({ kind: 'promote', memberId: '999' }, three)))).toEqual([
      'TargetNotFound',
    ]);
    const members = [...three, learner('etcd-main-0', '900', false)];
    expect(
      codes(
        evaluateChange(input({ kind: 'promote', memberId: '900' }, members, healthy(three, '100', members))),
      ),
    ).toEqual(['TargetUnreachable']);
  });

  it('refuses moving the leadership to a learner', () => {
    const members = [...three, learner('etcd-main-0', '900')];
    expect(codes(evaluateChange(input({ kind: 'move-leader', memberId: '900' }, members)))).toEqual([
      'TargetIsLearner',
    ]);
  });

  it('lists every reason at once', () => {
    const members = [...three, learner('etcd-main-0', '900')];
    const obs = healthy(members, '100').filter((o) => o.id !== '101');
    const v = evaluateChange(
      input({ kind: 'add-learner', name: 'x', peerURLs: ['http://x:2380'] }, members, obs),
    );
    expect(codes(v).sort()).toEqual(['LearnerAlreadyPresent', 'VoterUnreachable']);
  });

  it('produces a JSON-serialisable verdict', () => {
    const v = evaluateChange(input({ kind: 'remove', memberId: '102' }, three));
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});

describe('safety guard: removing the members of a lost cluster (rollback without the target)', () => {
  // 3 source voters and the new members of a join whose cluster is gone: they answer nothing.
  const newVoter = (n: number): GuardMember => ({
    id: `${900 + n}`,
    name: `etcd-main-${n}`,
    peerURLs: [`http://etcd-main-${n}.etcd-main:2380`],
    isLearner: false,
  });
  const lost = (members: GuardMember[]) => healthy(members, '100').filter((o) => !o.id.startsWith('9'));
  const stretched = [...three, newVoter(0), newVoter(1)];

  it('3 source + 2 dead new voters: 3 of 5 answer; removing one dead leaves 3 of 4 (quorum 3)', () => {
    const v = evaluateChange(input({ kind: 'remove', memberId: '901' }, stretched, lost(stretched)));
    expect(v.allowed).toBe(true);
    expect(v).toMatchObject({ votersBefore: 5, votersAfter: 4, quorumBefore: 3, quorumAfter: 3 });
    expect(v.warnings.join('\n')).toMatch(/etcd-main-0 \(900\) is unreachable.*tolerated/);
    expect(v.warnings.join('\n')).toMatch(/3 of 5 voters answer/);
  });

  it('then 3 + 1 dead: removing the last dead one leaves 3 of 3, the source as it was', () => {
    const members = [...three, newVoter(0)];
    const v = evaluateChange(input({ kind: 'remove', memberId: '900' }, members, lost(members)));
    expect(v.allowed).toBe(true);
    expect(v).toMatchObject({ votersAfter: 3, faultToleranceAfter: 1, requiredFaultTolerance: 1 });
  });

  it('removes a dead learner while the dead new voters are still members (5 voters, 3 answer)', () => {
    const members = [...stretched, learner('etcd-main-2', '902')];
    const v = evaluateChange(input({ kind: 'remove', memberId: '902' }, members, lost(members)));
    expect(v.allowed).toBe(true);
    expect(v.votersAfter).toBe(5);
  });

  it('refuses when the voters that answer are no quorum: 3 source + 4 dead new voters (3 of 7)', () => {
    const members = [...three, newVoter(0), newVoter(1), newVoter(2), newVoter(3)];
    const v = evaluateChange(input({ kind: 'remove', memberId: '903' }, members, lost(members)));
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['VoterUnreachable', 'VoterUnreachable', 'VoterUnreachable']);
  });

  it('refuses when a source voter is down as well: 2 of 5 answer', () => {
    const obs = lost(stretched).filter((o) => o.id !== '102');
    const v = evaluateChange(input({ kind: 'remove', memberId: '901' }, stretched, obs));
    expect(v.allowed).toBe(false);
    expect(codes(v).sort()).toEqual(['VoterUnreachable', 'VoterUnreachable']);
  });

  it('still refuses removing a member that answers while another voter is down', () => {
    const obs = healthy(stretched, '100').filter((o) => o.id !== '900');
    const v = evaluateChange(input({ kind: 'remove', memberId: '901' }, stretched, obs));
    expect(v.allowed).toBe(false);
    expect(codes(v)).toEqual(['VoterUnreachable']);
  });

  it('keeps the fault-tolerance rule: 5 source + 2 dead new voters, the source tolerated 2', () => {
    const five = [...three, voter(3), voter(4)];
    const members = [...five, newVoter(0), newVoter(1)];
    // 7 voters, 5 answer: 7 -> 6 and 6 -> 5 keep fault tolerance 2.
    const first = evaluateChange(input({ kind: 'remove', memberId: '901' }, members, lost(members), 2));
    expect(first.allowed).toBe(true);
    expect(first).toMatchObject({ faultToleranceBefore: 3, faultToleranceAfter: 2 });
    const last = [...five, newVoter(0)];
    expect(evaluateChange(input({ kind: 'remove', memberId: '900' }, last, lost(last), 2)).allowed).toBe(
      true,
    );
  });
});
