/**
 * etcd clients kept between connections (client-pool.ts), against real members: kept when they
 * answered, closed when a call failed or when unused too long, never shared across credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClientPool } from '../../activities/etcd/client-pool.js';
import { withConnection, type EtcdConnection } from '../../activities/etcd/connection.js';
import { memberStatus, observeCluster } from '../../activities/etcd/observe.js';
import type { EtcdAccess } from '../../activities/etcd/types.js';
import { createSecretResolver } from '../../activities/secret-ref.js';
import { EtcdTestCluster, waitFor } from '../helpers/etcd-cluster.js';

const secrets = createSecretResolver();

describe('etcd 3.5: clients kept between connections', () => {
  let cluster: EtcdTestCluster;
  let access: EtcdAccess;
  let names: string[];

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version: '3.5', size: 3 });
    names = [...cluster.members.keys()];
    access = cluster.access(names);
  }, 60_000);
  afterAll(async () => {
    await cluster?.teardown();
  });

  /** The clients a connection used, by member, after `fn` ran on it. */
  async function clientsAfter(pool: EtcdClientPool, fn: (c: EtcdConnection) => Promise<unknown>, a = access) {
    return withConnection(
      a,
      secrets,
      async (conn) => {
        await fn(conn);
        return new Map(names.map((n) => [n, conn.client(n)]));
      },
      pool,
    );
  }

  it('a connection takes the clients the one before kept, and the next connection does too', async () => {
    const pool = new EtcdClientPool();
    const first = await clientsAfter(pool, observeCluster);
    expect(pool.size).toBe(3);
    const second = await clientsAfter(pool, observeCluster);
    for (const n of names) expect(second.get(n)).toBe(first.get(n));
    // Without a pool every connection has its own.
    const alone = await withConnection(access, secrets, (conn) => Promise.resolve(conn.client(names[0]!)));
    expect(alone).not.toBe(first.get(names[0]!));
    pool.closeAll();
    expect(pool.size).toBe(0);
  });

  it('closes a client whose call failed; the next connection reaches the member again on a new one', async () => {
    const pool = new EtcdClientPool();
    const first = await clientsAfter(pool, observeCluster);
    const down = names[2]!;
    await cluster.stopMember(down);
    await expect(withConnection(access, secrets, (conn) => memberStatus(conn, down), pool)).rejects.toThrow();
    expect(pool.size).toBe(2);
    await cluster.restartMember(down);
    const status = await waitFor(
      `${down} answering again`,
      () => withConnection(access, secrets, (conn) => memberStatus(conn, down), pool).catch(() => undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(status.name).toBe(down);
    const after = await clientsAfter(pool, observeCluster);
    expect(after.get(down)).not.toBe(first.get(down));
    expect(after.get(names[0]!)).toBe(first.get(names[0]!));
    pool.closeAll();
  }, 60_000);

  it('keeps clients apart when the credentials or deadline differ, and closes unused ones', async () => {
    const pool = new EtcdClientPool(300);
    const first = await clientsAfter(pool, observeCluster);
    const other = await clientsAfter(pool, observeCluster, { ...access, timeoutMs: 7000 });
    for (const n of names) expect(other.get(n)).not.toBe(first.get(n));
    expect(pool.size).toBe(6);
    await waitFor('the unused clients closed', () => Promise.resolve(pool.size === 0 || undefined), {
      timeoutMs: 5000,
      intervalMs: 50,
    });
  });
});
