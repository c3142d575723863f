/**
 * Observation against real etcd clusters (3.4, 3.5, 3.6): member list,
 * status, health, revision, hashKV at a fixed revision under writes, and a
 * divergent member reported as a mismatch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentRevision,
  hashKV,
  listMembers,
  memberHealth,
  memberStatus,
  observeCluster,
  observeEndpoints,
} from '../../activities/etcd/observe.js';
import { ETCD_VERSIONS, EtcdTestCluster, membershipShape } from '../helpers/etcd-cluster.js';
import { failureOf, onEtcd, verdictOn } from './helpers.js';

describe.each(ETCD_VERSIONS)('etcd %s: observe', (version) => {
  let cluster: EtcdTestCluster;
  const names = ['etcd-0', 'etcd-1', 'etcd-2'];

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('lists the members with names, URLs and learner flags', async () => {
    const list = await onEtcd(cluster.access(), (c) => listMembers(c));
    expect(list.members.map((m) => m.name).sort()).toEqual(names);
    for (const m of list.members) {
      const spec = cluster.member(m.name);
      expect(m.peerURLs).toEqual([spec.peerUrl]);
      expect(m.clientURLs).toEqual([spec.clientUrl]);
      expect(m.isLearner).toBe(false);
      expect(m.id).toMatch(/^[1-9][0-9]*$/);
    }
    expect(list.clusterId).toMatch(/^[1-9][0-9]*$/);
  });

  it('reports per-member status and health, one leader agreed by all', async () => {
    const ids = new Map(
      (await onEtcd(cluster.access(), (c) => listMembers(c))).members.map((m) => [m.name, m.id]),
    );
    const statuses = await Promise.all(
      names.map((name) => onEtcd(cluster.access(), (c) => memberStatus(c, name))),
    );
    for (const s of statuses) {
      expect(s.id).toBe(ids.get(s.name));
      expect(s.version.startsWith(`${version}.`)).toBe(true);
      expect(s.dbSize).toBeGreaterThan(0);
      expect(s.dbSizeInUse).toBeGreaterThan(0);
      expect(s.dbSizeInUse).toBeLessThanOrEqual(s.dbSize);
      expect(s.raftTerm).toBeGreaterThanOrEqual(1);
      expect(s.raftAppliedIndex).toBeGreaterThan(0);
      expect(s.raftIndex).toBeGreaterThanOrEqual(s.raftAppliedIndex - 1);
      expect(s.errors).toEqual([]);
      expect(s.isLearner).toBe(false);
    }
    expect(statuses.filter((s) => s.isLeader)).toHaveLength(1);
    expect(new Set(statuses.map((s) => s.leaderId)).size).toBe(1);
    for (const name of names) {
      const h = await onEtcd(cluster.access(), (c) => memberHealth(c, name));
      expect(h).toMatchObject({ name, healthy: true, check: 'linearizable-read' });
    }
  });

  it('reads the current revision; observing changes nothing', async () => {
    const access = cluster.access();
    const r1 = await onEtcd(access, (c) => currentRevision(c));
    const o1 = await onEtcd(access, observeCluster);
    const o2 = await onEtcd(access, observeCluster);
    const r2 = await onEtcd(access, (c) => currentRevision(c));
    expect(r2.revision).toBe(r1.revision);
    expect(membershipShape(o2.members)).toEqual(membershipShape(o1.members));
    expect(o2.leaderId).toBe(o1.leaderId);
    await cluster.client().put('observe/k').value('v');
    const r3 = await onEtcd(access, (c) => currentRevision(c));
    expect(r3.revision).toBe(r1.revision + 1);
  });

  it('observes only the endpoints asked for, with the whole member list', async () => {
    const obs = await onEtcd(cluster.access(), (c) => observeEndpoints(c, ['etcd-0', 'etcd-2']));
    expect(obs.endpoints.map((e) => e.name)).toEqual(['etcd-0', 'etcd-2']);
    expect(obs.endpoints.every((e) => e.reachable && e.health?.healthy)).toBe(true);
    expect(obs.members.map((m) => m.name).sort()).toEqual(names);
    // Not observed, so the guard cannot count it: it is named as such.
    const skipped = obs.members.find((m) => m.name === 'etcd-1')!;
    expect(obs.unobservedMemberIds).toEqual([skipped.id]);
    expect(obs.leaderId).toBe((await onEtcd(cluster.access(), observeCluster)).leaderId);
  });

  it('reports a stopped member as unreachable and unhealthy', async () => {
    await cluster.stopMember('etcd-1');
    try {
      const access = cluster.access(names);
      const h = await onEtcd(access, (c) => memberHealth(c, 'etcd-1'));
      expect(h.healthy).toBe(false);
      expect(h.error).toBeTruthy();
      const obs = await onEtcd(access, observeCluster);
      const e = obs.endpoints.find((x) => x.name === 'etcd-1');
      expect(e?.reachable).toBe(false);
      expect(e?.error).toBeTruthy();
      expect(obs.unobservedMemberIds).toHaveLength(1);
      const verdict = await verdictOn(access, { kind: 'maintenance', operation: 'compact' }, 1);
      expect(verdict.allowed).toBe(false);
      expect(verdict.reasons.map((r) => r.code)).toEqual(['VoterUnreachable']);
      const err = await failureOf(onEtcd(access, (c) => memberStatus(c, 'etcd-1')));
      expect(err.type).toBe('EtcdUnavailable');
      expect(err.nonRetryable).toBe(false);
      expect(err.message).toMatch(/etcd-1/);
    } finally {
      await cluster.restartMember('etcd-1');
    }
  });

  it('hashKV agrees across members at one fixed revision while writes continue', async () => {
    const access = cluster.access(names);
    const writer = cluster.client(['etcd-0']);
    let stop = false;
    let writes = 0;
    const writing = (async () => {
      while (!stop) {
        await writer.put(`load/${writes % 50}`).value(`v${writes}`);
        writes++;
      }
    })();
    try {
      // Let writes flow before and during the hashes.
      while (writes < 50) await new Promise((r) => setTimeout(r, 20));
      const during = await onEtcd(access, (c) => hashKV(c));
      expect(during.errors).toEqual([]);
      expect(during.hashes).toHaveLength(3);
      expect(during.agree).toBe(true);
      expect(during.revision).toBeGreaterThan(1);
      const before = writes;
      while (writes < before + 30) await new Promise((r) => setTimeout(r, 20));
      // Writes went on: the latest revision moved, the hash at the fixed revision did not.
      const later = await onEtcd(access, (c) => hashKV(c));
      expect(later.revision).toBeGreaterThan(during.revision);
      const again = await onEtcd(access, (c) => hashKV(c, { revision: during.revision }));
      expect(again.agree).toBe(true);
      expect(again.hashes.map((h) => h.hash)).toEqual(during.hashes.map((h) => h.hash));
    } finally {
      stop = true;
      await writing;
    }
  });

  it('reports a member with divergent data as a mismatch', async () => {
    // etcd-2's data dir, copied and started on its own, then written to differently.
    const fork = await cluster.startDivergentCopy('etcd-2', 'etcd-2-fork');
    const main = cluster.client(['etcd-0', 'etcd-1']);
    const forkClient = cluster.client([fork.name]);
    for (let i = 0; i < 5; i++) await main.put(`diverge/${i}`).value('main');
    const revisionOf = async (name: string) =>
      (await onEtcd(cluster.access([name]), (c) => currentRevision(c))).revision;
    const mainRev = await revisionOf('etcd-0');
    let forkRev = await revisionOf(fork.name);
    for (let i = 0; forkRev < mainRev + 5; i++) {
      await forkClient.put(`diverge/${i}`).value('fork');
      forkRev = await revisionOf(fork.name);
    }
    const access = cluster.access(['etcd-0', 'etcd-1', fork.name]);
    const result = await onEtcd(access, (c) => hashKV(c, { revision: mainRev }));
    expect(result.agree).toBe(false);
    expect(result.mismatched).toEqual([fork.name]);
    expect(result.summary).toMatch(/MISMATCH on etcd-2-fork/);
    const good = result.hashes.filter((h) => h.name !== fork.name);
    expect(good).toHaveLength(2);
    expect(good[0]?.hash).toBe(good[1]?.hash);
    // The guard refuses changes too: the fork lists a different member set and leader.
    const verdict = await verdictOn(access, { kind: 'maintenance', operation: 'compact' }, 1);
    expect(verdict.allowed).toBe(false);
    expect(verdict.reasons.map((r) => r.code)).toContain('MemberListDisagreement');
  });
});
