/**
 * Preflight's hashKV check against real etcd (issue #16, item 8): members that hold the same data
 * pass while writes go on; a member whose data diverged (a copy of its data dir that lived on
 * its own) is refused by name; a member that is down is left to the health check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeCluster } from '../../activities/etcd/observe.js';
import { hashKvCheck, sourceHashKvCheck } from '../../activities/migration/source-etcd-checks.js';
import { createSecretResolver } from '../../activities/secret-ref.js';
import { ETCD_VERSIONS, EtcdTestCluster } from '../helpers/etcd-cluster.js';
import { onEtcd } from './helpers.js';

describe.each(ETCD_VERSIONS)('etcd %s: preflight compares hashKV of the source members', (version) => {
  const names = ['etcd-0', 'etcd-1', 'etcd-2'];
  let cluster: EtcdTestCluster;
  beforeAll(async () => void (cluster = await EtcdTestCluster.start({ version })));
  afterAll(() => cluster?.teardown());

  it('members with the same data: no refusal, while writes go on', async () => {
    const writer = cluster.client(['etcd-0']);
    const writes = Array.from({ length: 200 }, (_, i) => writer.put(`load/${i % 20}`).value(`v${i}`));
    const [{ hash, refusals }] = await Promise.all([
      onEtcd(cluster.access(names), (c) => hashKvCheck(c)),
      ...writes,
    ]);
    expect(refusals).toEqual([]);
    expect(hash.agree).toBe(true);
    expect(hash.hashes.map((h) => h.name).sort()).toEqual(names);
  });

  it('a member whose data diverged: one refusal naming it; a member that is down is not compared', async () => {
    const fork = await cluster.startDivergentCopy('etcd-2', 'etcd-2-fork');
    const main = cluster.client(['etcd-0', 'etcd-1']);
    const forked = cluster.client([fork.name]);
    for (let i = 0; i < 5; i++) {
      await main.put(`diverge/${i}`).value('main');
      await forked.put(`diverge/${i}`).value('fork');
    }
    const secrets = createSecretResolver();
    const diverged = cluster.access(['etcd-0', 'etcd-1', fork.name]);
    const obs = await onEtcd(diverged, observeCluster);
    const { hash, refusals } = await sourceHashKvCheck(diverged, secrets, obs);
    expect(hash?.agree).toBe(false);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(
      /^etcd member etcd-2-fork disagrees with etcd-0, etcd-1 on hashKV at revision \d+ \(.*\): its data differs from the other members'; replace that member/,
    );

    // etcd-2 itself is stopped (its data was copied): the health check refuses it, hashKV leaves it out.
    const withStopped = cluster.access(names);
    const down = await onEtcd(withStopped, observeCluster);
    expect(down.endpoints.find((e) => e.name === 'etcd-2')?.reachable).toBe(false);
    const healthy = await sourceHashKvCheck(withStopped, secrets, down);
    expect(healthy.refusals).toEqual([]);
    expect(healthy.hash?.hashes.map((h) => h.name).sort()).toEqual(['etcd-0', 'etcd-1']);
  });
});
