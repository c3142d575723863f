/**
 * hashKV heartbeats the activity it runs in while the members hash (issue #16, item 6): observe
 * and verifyConsistency hash every voter's keyspace, which takes long on a large one, and a
 * heartbeat timeout must not end them. Real etcd, a mocked activity recording heartbeats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { currentRevision, hashKV } from '../../activities/etcd/observe.js';
import { resolveRunContext } from '../../activities/run-context.js';
import { ETCD_VERSIONS, EtcdTestCluster } from '../helpers/etcd-cluster.js';
import { onEtcd } from './helpers.js';

interface Beat {
  hashKV: number;
  hashing: string[];
  elapsedMs: number;
}

/** Runs `fn` as an activity would, with the heartbeats it sends. */
async function inActivity<T>(fn: () => Promise<T>): Promise<{ value: T; beats: Beat[] }> {
  const env = new MockActivityEnvironment();
  const beats: Beat[] = [];
  env.on('heartbeat', (d: Beat) => beats.push(d));
  const value = await env.run<[], T, () => Promise<T>>(fn);
  return { value, beats };
}

const version = ETCD_VERSIONS[ETCD_VERSIONS.length - 1]!;

describe(`etcd ${version}: hashKV heartbeats`, () => {
  const names = ['etcd-0', 'etcd-1', 'etcd-2'];
  let cluster: EtcdTestCluster;
  beforeAll(async () => void (cluster = await EtcdTestCluster.start({ version })));
  afterAll(() => cluster?.teardown());

  it('heartbeats as the members start hashing, with the revision and who is hashing', async () => {
    const { value, beats } = await inActivity(() =>
      onEtcd(cluster.access(names), (c) => hashKV(c, {}, resolveRunContext())),
    );
    expect(value.agree).toBe(true);
    expect(beats[0]).toMatchObject({ hashKV: value.revision });
    expect(beats[0]!.hashing.sort()).toEqual(names);
  });

  it('keeps heartbeating while a member takes long to hash', async () => {
    // A member waits for a revision it has not reached yet: a slow hash, for 3 s.
    const { value, beats } = await inActivity(() =>
      onEtcd(cluster.access(names), async (c) => {
        const { revision } = await currentRevision(c);
        return hashKV(c, { revision: revision + 1000, catchUpMs: 3_000 }, resolveRunContext());
      }),
    );
    expect(value.agree).toBe(false);
    // After the first, every 2 s; a timer's 2 s can read as 1999 ms on the wall clock.
    const later = beats.slice(1).filter((b) => b.elapsedMs >= 1_000);
    expect(later.length).toBeGreaterThan(0);
    expect(later[0]!.hashing.sort()).toEqual(names);
  });
});
