/**
 * Removing a member that leads, against real etcd (3.4, 3.5, 3.6): the plain removal is refused
 * (TargetIsLeader), the leader-safe one hands the leadership to a preferred member that stays,
 * then removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeMemberNotLeading } from '../../activities/etcd/leader-safe-removal.js';
import { moveLeader } from '../../activities/etcd/maintenance.js';
import { removeMember } from '../../activities/etcd/membership.js';
import { listMembers, observeCluster } from '../../activities/etcd/observe.js';
import { ETCD_VERSIONS, EtcdTestCluster } from '../helpers/etcd-cluster.js';
import { failureOf, onEtcd } from './helpers.js';

describe.each(ETCD_VERSIONS)('etcd %s: removing the leader', (version) => {
  let cluster: EtcdTestCluster;
  const names = ['etcd-0', 'etcd-1', 'etcd-2', 'etcd-3'];

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version, size: 4 });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('hands the leadership to a preferred member that stays, then removes the former leader', async () => {
    const access = cluster.access(names);
    await onEtcd(access, (c) => moveLeader(c, { target: { name: 'etcd-3' } }));

    const refused = await failureOf(
      onEtcd(access, (c) => removeMember(c, { member: { name: 'etcd-3' }, requiredFaultTolerance: 1 })),
    );
    expect(refused.type).toBe('TargetIsLeader');

    const r = await onEtcd(access, (c) =>
      removeMemberNotLeading(c, {
        member: { name: 'etcd-3' },
        requiredFaultTolerance: 1,
        preferAsLeader: (m) => m.name === 'etcd-1',
      }),
    );
    expect(r).toMatchObject({ leaderMovedTo: 'etcd-1', alreadyRemoved: false, name: 'etcd-3' });
    const after = cluster.access(names.slice(0, 3));
    const { members } = await onEtcd(after, (c) => listMembers(c));
    expect(members.map((m) => m.name).sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
    const obs = await onEtcd(after, observeCluster);
    expect(members.find((m) => m.id === obs.leaderId)?.name).toBe('etcd-1');
  });

  it('removes a follower without moving the leadership', async () => {
    const access = cluster.access(names.slice(0, 3));
    const r = await onEtcd(access, (c) =>
      removeMemberNotLeading(c, {
        member: { name: 'etcd-2' },
        requiredFaultTolerance: 0,
        preferAsLeader: () => true,
      }),
    );
    expect(r).toMatchObject({ leaderMovedTo: null, alreadyRemoved: false });
  });
});
