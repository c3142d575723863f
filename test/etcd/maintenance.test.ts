/**
 * Maintenance against real etcd clusters (3.4, 3.5, 3.6): a history-heavy
 * keyspace fills a small backend quota (NOSPACE alarm), then compaction,
 * rolling defragmentation (followers, move-leader, former leader) and the
 * alarm's disarm bring the cluster back; everything idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact, defragment } from '../../activities/etcd/maintenance.js';
import { memberStatus, observeCluster } from '../../activities/etcd/observe.js';
import { rollingDefragment } from '../../activities/etcd/rolling-defragment.js';
import type { MemberStatus } from '../../activities/etcd/types.js';
import type { RunContext } from '../../activities/run-context.js';
import { ETCD_VERSIONS, EtcdTestCluster, waitFor } from '../helpers/etcd-cluster.js';
import { onEtcd, verdictOn } from './helpers.js';

const QUOTA = 8 * 1024 * 1024;
const VALUE = 'h'.repeat(64 * 1024);

describe.each(ETCD_VERSIONS)('etcd %s: maintenance', (version) => {
  let cluster: EtcdTestCluster;
  const beats: unknown[] = [];
  const rc: RunContext = { heartbeat: (d) => beats.push(d) };
  const names = ['etcd-0', 'etcd-1', 'etcd-2'];
  const statuses = (): Promise<MemberStatus[]> =>
    onEtcd(cluster.access(names), (c) => Promise.all(names.map((name) => memberStatus(c, name))));

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version, extraArgs: ['--quota-backend-bytes', String(QUOTA)] });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('compacts to revision - keep; DB size in use drops; a second compaction changes nothing', async () => {
    const c = cluster.client(['etcd-0']);
    for (let i = 0; i < 60; i++) await c.put(`history/${i % 4}`).value(VALUE); // ~4 MB of history, 4 live keys
    const before = await statuses();
    const first = await onEtcd(cluster.access(names), (c) => compact(c, { keep: 4 }));
    expect(first.alreadyCompacted).toBe(false);
    expect(first.compactedTo).toBe(first.revision - 4);
    expect(first.verdict.allowed).toBe(true);
    const second = await onEtcd(cluster.access(names), (c) => compact(c, { keep: 4 }));
    expect(second).toMatchObject({
      alreadyCompacted: true,
      revision: first.revision,
      compactedTo: first.compactedTo,
    });
    // Each member compacts on its own, asynchronously; the freed pages count as free at the
    // backend's next commit, so keep a trickle of small writes going while waiting.
    // The file itself (dbSize) only shrinks with defragmentation.
    const after = await waitFor('every member to count the compacted history as free', async () => {
      await c.put('after/compaction').value('x');
      const now = await statuses();
      return now.every((s, i) => s.dbSizeInUse < (before[i]?.dbSizeInUse ?? 0) / 2) && now;
    });
    for (let i = 0; i < names.length; i++) {
      expect(after[i]?.dbSize).toBeGreaterThanOrEqual((before[i]?.dbSize ?? 0) - 4096);
    }
  });

  it('fills the quota with history until etcd raises NOSPACE; membership changes are refused', async () => {
    const c = cluster.client(['etcd-0']);
    await waitFor(
      'the NOSPACE alarm',
      async () => {
        try {
          for (let i = 0; i < 8; i++) await c.put(`history/${i % 4}`).value(VALUE);
          return false;
        } catch (err) {
          if (!String(err).includes('database space exceeded')) throw err;
          return true;
        }
      },
      { timeoutMs: 120_000, intervalMs: 1 },
    );
    const obs = await onEtcd(cluster.access(names), observeCluster);
    expect(obs.alarms.map((a) => a.alarm)).toContain('NOSPACE');
    const verdict = await verdictOn(
      cluster.access(names),
      { kind: 'add-learner', name: 'x', peerURLs: ['http://127.0.0.1:1'] },
      1,
    );
    expect(verdict.reasons.map((r) => r.code)).toContain('AlarmActive');
  });

  it('rolling defragment: followers, then move-leader to a defragmented member, then the former leader; NOSPACE disarmed', async () => {
    const before = await statuses();
    // Compaction is allowed during NOSPACE; defragmentation then returns the space.
    expect((await onEtcd(cluster.access(names), (c) => compact(c, { keep: 4 }))).alreadyCompacted).toBe(
      false,
    );
    const leaderBefore = before.find((s) => s.isLeader);
    const followers = before
      .filter((s) => !s.isLeader)
      .map((s) => s.name)
      .sort();
    expect(leaderBefore).toBeDefined();
    beats.length = 0;
    const r = await onEtcd(cluster.access(names), (c) => rollingDefragment(c, {}, rc));
    const newLeader = followers[0] ?? '';
    // Defragmentation and leadership in this exact order; the alarms after it, in any order.
    expect(r.order.slice(0, 4)).toEqual([
      `defragment ${followers[0]}`,
      `defragment ${followers[1]}`,
      `move-leader ${leaderBefore?.name}->${newLeader}`,
      `defragment ${leaderBefore?.name}`,
    ]);
    expect([...r.order.slice(4)].sort()).toEqual(
      r.alarmsBefore
        .filter((a) => a.alarm === 'NOSPACE')
        .map((a) => `disarm NOSPACE ${a.memberId}`)
        .sort(),
    );
    expect(r.alarmsBefore.some((a) => a.alarm === 'NOSPACE')).toBe(true);
    expect(r.alarmsAfter).toEqual([]);
    expect(r.leaderBefore).toBe(leaderBefore?.id);
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    // The leader observed by every member really changed, to the member defragmented first.
    const after = await statuses();
    const newLeaderId = after.find((s) => s.name === newLeader)?.id;
    expect(after.every((s) => s.leaderId === newLeaderId)).toBe(true);
    expect(r.leaderAfter).toBe(newLeaderId);
    for (let i = 0; i < names.length; i++) {
      expect(after[i]?.dbSize).toBeLessThan((before[i]?.dbSize ?? 0) / 2);
      expect(after[i]?.dbSizeInUse).toBeLessThan((before[i]?.dbSizeInUse ?? 0) / 2);
    }
    expect(r.totalAfter.dbSize).toBeLessThan(r.totalBefore.dbSize / 2);
    const defrags = r.steps.flatMap((s) => (s.action === 'defragment' ? [s.result] : []));
    expect(defrags.map((d) => d.wasLeader)).toEqual([false, false, false]); // the former leader had lost the leadership
    expect(beats.length).toBeGreaterThan(0);
    // Writes work again.
    await cluster.client(['etcd-0']).put('after/defrag').value('ok');
  });

  it('a second rolling defragment with nothing to reclaim changes nothing (leader stays)', async () => {
    const before = await statuses();
    const r = await onEtcd(cluster.access(names), (c) =>
      rollingDefragment(c, { minReclaimableBytes: 1024 * 1024 }, rc),
    );
    expect(r.order.every((o) => o.startsWith('skip '))).toBe(true);
    expect(r.steps.some((s) => s.action === 'move-leader')).toBe(false);
    const after = await statuses();
    expect(after.map((s) => s.leaderId)).toEqual(before.map((s) => s.leaderId));
  });

  it('defragments one member, heartbeating; again with nothing to reclaim is skipped', async () => {
    const c = cluster.client(['etcd-0']);
    for (let i = 0; i < 20; i++) await c.put(`more/${i % 2}`).value(VALUE);
    await onEtcd(cluster.access(names), (c) => compact(c, { keep: 1 }));
    const follower = (await statuses()).find((s) => !s.isLeader)?.name ?? '';
    beats.length = 0;
    const first = await onEtcd(cluster.access(names), (c) => defragment(c, { name: follower }, rc));
    expect(first).toMatchObject({ name: follower, skipped: false, wasLeader: false });
    expect(first.after.dbSize).toBeLessThan(first.before.dbSize);
    expect(beats).toContainEqual({ defragment: follower, elapsedMs: 0 });
    const second = await onEtcd(cluster.access(names), (c) =>
      defragment(c, { name: follower, minReclaimableBytes: 1024 * 1024 }, rc),
    );
    expect(second.skipped).toBe(true);
    expect(second.after).toEqual(second.before);
  });
});

describe.each(ETCD_VERSIONS)('etcd %s: rolling defragment resumes from the last heartbeat', (version) => {
  let cluster: EtcdTestCluster;
  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('skips the members an earlier attempt finished and goes on with move-leader and the former leader', async () => {
    const names = ['etcd-0', 'etcd-1', 'etcd-2'];
    await onEtcd(cluster.access(names), async (conn) => {
      const statuses = await Promise.all(names.map((n) => memberStatus(conn, n)));
      const leader = statuses.find((s) => s.isLeader);
      const followers = statuses.filter((s) => !s.isLeader).sort((a, b) => a.name.localeCompare(b.name));
      const beats: unknown[] = [];
      // What Temporal hands a retried attempt: the last heartbeat of the attempt that died.
      const previousHeartbeat = [
        { rollingDefragment: { done: followers.map((f) => f.id), leaderBefore: leader?.id } },
      ];
      const r = await rollingDefragment(conn, {}, { heartbeat: (d) => beats.push(d), previousHeartbeat });
      expect(r.order).toEqual([
        `skip ${followers[0]?.name} (done by an earlier attempt)`,
        `skip ${followers[1]?.name} (done by an earlier attempt)`,
        `move-leader ${leader?.name}->${followers[0]?.name}`,
        `defragment ${leader?.name}`,
      ]);
      expect(r.leaderBefore).toBe(leader?.id);
      expect(r.leaderAfter).toBe(followers[0]?.id);
      // Every heartbeat carries the resume state, now including the former leader.
      const last = beats.at(-1) as { rollingDefragment: { done: string[] } };
      expect(last.rollingDefragment.done.sort()).toEqual(statuses.map((s) => s.id).sort());
    });
  });
});
