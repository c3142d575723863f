/**
 * hashKvOnSide's reading against real etcd: the members of one "side" read at their current
 * revision, the others later at that same revision while writes went on in between, and the
 * workflow's combination of the two (issue #15). A member without an endpoint, and one whose
 * data diverged, are named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineSideHashes } from '../../core/routing/side-hashes.js';
import { sideHashKv } from '../../activities/migration/side-hash-kv.js';
import { noopRunContext } from '../../activities/run-context.js';
import { ETCD_VERSIONS, EtcdTestCluster } from '../helpers/etcd-cluster.js';
import { onEtcd } from './helpers.js';

describe.each(ETCD_VERSIONS)('etcd %s: hashKV read side by side at one revision', (version) => {
  let cluster: EtcdTestCluster;
  beforeAll(async () => void (cluster = await EtcdTestCluster.start({ version })));
  afterAll(() => cluster?.teardown());

  const read = (names: string[], side: 'source' | 'target', revision?: number, members = names) =>
    onEtcd(cluster.access(names), (c) =>
      sideHashKv(c, { side, members, ...(revision === undefined ? {} : { revision }) }, {}, noopRunContext),
    );

  it("the second side, read at the first side's revision after more writes, agrees with it", async () => {
    const writer = cluster.client(['etcd-0']);
    for (let i = 0; i < 20; i++) await writer.put(`side/${i}`).value(`v${i}`);
    const first = await read(['etcd-0', 'etcd-1'], 'source');
    for (let i = 0; i < 20; i++) await writer.put(`side/${i}`).value(`w${i}`);
    const second = await read(['etcd-2'], 'target', first.revision);

    expect(first.side).toBe('source');
    expect(Object.keys(first.hashes).sort()).toEqual(['etcd-0', 'etcd-1']);
    expect(first.errors).toBeUndefined();
    expect(second.revision).toBe(first.revision);
    expect(Object.keys(second.hashes)).toEqual(['etcd-2']);
    const combined = combineSideHashes([first, second], ['etcd-0', 'etcd-1', 'etcd-2']);
    expect(combined.hashKv.agree).toBe(true);
    expect(new Set(Object.values(combined.hashKv.hashes)).size).toBe(1);

    // At the current revision (the writes above are in it) the hash is another one.
    const now = await read(['etcd-2'], 'target');
    expect(now.revision).toBeGreaterThan(first.revision);
    expect(now.hashes['etcd-2']).not.toBe(second.hashes['etcd-2']);
  });

  it('a member of the side without an endpoint (no pod IP) is reported, not skipped', async () => {
    const r = await read(['etcd-1'], 'target', undefined, ['etcd-1', 'etcd-9']);
    expect(Object.keys(r.hashes)).toEqual(['etcd-1']);
    expect(Object.keys(r.errors ?? {})).toEqual(['etcd-9']);
    expect(r.errors?.['etcd-9']).toMatch(/no pod IP/);
  });

  it('a member whose data diverged is named when the readings are combined', async () => {
    const fork = await cluster.startDivergentCopy('etcd-2', 'etcd-2-fork');
    const main = cluster.client(['etcd-0', 'etcd-1']);
    const forked = cluster.client([fork.name]);
    for (let i = 0; i < 5; i++) {
      await main.put(`diverge/${i}`).value('main');
      await forked.put(`diverge/${i}`).value('fork');
    }
    const first = await read(['etcd-0', 'etcd-1'], 'source');
    const second = await read([fork.name], 'target', first.revision);
    expect(second.revision).toBe(first.revision);
    const combined = combineSideHashes([first, second], ['etcd-0', 'etcd-1', fork.name]);
    expect(combined.hashKv.agree).toBe(false);
    expect(combined.mismatched).toEqual([fork.name]);
    expect(combined.summary).toMatch(
      new RegExp(`^hashKV disagrees at revision ${first.revision}: MISMATCH on ${fork.name} \\(`),
    );
  });
});
