/**
 * TLS + auth against real etcd clusters (3.4, 3.5, 3.6): the operations work
 * with client certificates and a root user whose password is read from a
 * file; a wrong CA, a wrong password, a user without the root role and an
 * unresolvable Secret reference are refused with clear, typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compact, defragment, moveLeader } from '../../activities/etcd/maintenance.js';
import { addLearner, undoAddLearner } from '../../activities/etcd/membership.js';
import { hashKV, listMembers, memberStatus, observeCluster } from '../../activities/etcd/observe.js';
import { awaitSteadyPeerLink } from '../../activities/etcd/peer-link.js';
import type { EtcdAccess } from '../../activities/etcd/types.js';
import { noopRunContext } from '../../activities/run-context.js';
import { createSecretResolver } from '../../activities/secret-ref.js';
import { ETCD_VERSIONS, EtcdTestCluster, membershipShape } from '../helpers/etcd-cluster.js';
import { failureOf, onEtcd } from './helpers.js';

describe.each(ETCD_VERSIONS)('etcd %s: TLS and auth', (version) => {
  let cluster: EtcdTestCluster;
  const names = ['etcd-0', 'etcd-1', 'etcd-2'];

  beforeAll(async () => {
    cluster = await EtcdTestCluster.start({ version, tls: true, auth: true });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('observes, hashes, compacts, defragments and moves the leader over TLS with auth', async () => {
    const access = cluster.access(names);
    expect(Object.values(access.endpoints).every((u) => u.startsWith('https://'))).toBe(true);
    // The access description holds references only: no key material, no password.
    expect(JSON.stringify(access)).not.toContain(cluster.rootPassword);
    expect(JSON.stringify(access)).not.toContain('PRIVATE KEY');

    const obs = await onEtcd(access, observeCluster);
    expect(obs.members).toHaveLength(3);
    expect(obs.endpoints.every((e) => e.reachable && e.health?.healthy)).toBe(true);
    expect(obs.alarms).toEqual([]);
    const c = cluster.client();
    for (let i = 0; i < 20; i++) await c.put(`tls/${i % 3}`).value(`v${i}`);
    const hash = await onEtcd(access, (c) => hashKV(c));
    expect(hash.agree).toBe(true);
    expect(hash.hashes).toHaveLength(3);
    const compacted = await onEtcd(access, (c) => compact(c, { keep: 5 }));
    expect(compacted.alreadyCompacted).toBe(false);
    const follower = obs.endpoints.find((e) => !e.status?.isLeader)?.name ?? '';
    const defrag = await onEtcd(access, (c) => defragment(c, { name: follower }));
    expect(defrag.skipped).toBe(false);
    const moved = await onEtcd(access, (c) => moveLeader(c, { target: { name: follower } }));
    expect(moved.changed).toBe(true);
    expect((await onEtcd(access, (c) => memberStatus(c, follower))).isLeader).toBe(true);
  });

  it('adds a learner and undoes it over TLS with auth', async () => {
    const access = cluster.access(names);
    const before = membershipShape((await onEtcd(access, (c) => listMembers(c))).members);
    const spec = await cluster.allocateMember('etcd-main-tls');
    const added = await onEtcd(access, (c) =>
      addLearner(c, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: 1 }),
    );
    expect(added.member.isLearner).toBe(true);
    expect(added.member.peerURLs).toEqual([spec.peerUrl]);
    const undo = await onEtcd(access, (c) =>
      undoAddLearner(c, { member: { memberId: added.member.id }, requiredFaultTolerance: 1 }),
    );
    expect(undo.alreadyRemoved).toBe(false);
    expect(membershipShape((await onEtcd(access, (c) => listMembers(c))).members)).toEqual(before);
  });

  it("reads the leader's view of its peers from /metrics over TLS with the client certificate", async () => {
    const access = cluster.access(names);
    const obs = await onEtcd(access, observeCluster);
    const leader = obs.endpoints.find((e) => e.status?.isLeader)!;
    const follower = obs.members.find((m) => m.id !== leader.status!.id)!;
    const check = await onEtcd(access, (conn) =>
      awaitSteadyPeerLink(conn, leader.name, follower, { rc: noopRunContext }),
    );
    expect(check).toMatchObject({ checked: true, voter: leader.name });
    // The same read with a CA that did not sign the server certificate fails the TLS handshake.
    const wrongCa = cluster.access(names, {
      tls: {
        ca: { file: cluster.tlsFiles!.otherCa },
        cert: { file: cluster.tlsFiles!.cert },
        key: { file: cluster.tlsFiles!.key },
      },
    });
    await expect(onEtcd(wrongCa, (conn) => conn.httpGet(leader.name, '/metrics'))).rejects.toThrow(
      /certificate/,
    );
  });

  it('refuses a server certificate not signed by the configured CA, with a clear message', async () => {
    const tls = cluster.tlsFiles;
    if (!tls) throw new Error('cluster has no TLS files');
    const access: EtcdAccess = cluster.access(names, {
      tls: { ca: { file: tls.otherCa }, cert: { file: tls.cert }, key: { file: tls.key } },
    });
    const err = await failureOf(onEtcd(access, (c) => listMembers(c)));
    expect(err.type).toBe('TlsHandshakeFailed');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/TLS handshake failed/);
    expect(err.message).toMatch(/not signed by the CA the migration trusts \(tls.operator's caKey\)/);
    expect(err.message).toMatch(/member list/);
  });

  it('refuses a wrong password and a user without the root role as PermissionDenied', async () => {
    const wrong = join(cluster.baseDir, 'wrong.password');
    writeFileSync(wrong, 'not-the-password\n');
    const e1 = await failureOf(
      onEtcd(cluster.access(names, { auth: { username: 'root', password: { file: wrong } } }), (c) =>
        listMembers(c),
      ),
    );
    expect(e1.type).toBe('PermissionDenied');
    expect(e1.nonRetryable).toBe(true);
    expect(e1.message).toMatch(/authentication failed/);

    const readerPw = join(cluster.baseDir, 'reader.password');
    writeFileSync(readerPw, `${cluster.readerPassword}\n`);
    const reader = cluster.access(names, { auth: { username: 'reader', password: { file: readerPw } } });
    const spec = await cluster.allocateMember('etcd-main-denied');
    const e2 = await failureOf(
      onEtcd(reader, (c) =>
        addLearner(c, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: 1 }),
      ),
    );
    expect(e2.type).toBe('PermissionDenied');
    expect(e2.nonRetryable).toBe(true);
    expect(e2.message).toMatch(/permission denied/);
    const list = await onEtcd(cluster.access(names), (c) => listMembers(c));
    expect(list.members.some((m) => m.peerURLs.includes(spec.peerUrl))).toBe(false);
  });

  it('fails clearly on a Kubernetes Secret reference without a Kubernetes reader, and uses one when injected', async () => {
    const ref = { secret: { namespace: 'etcd', name: 'etcd-root', key: 'password' } };
    const access = cluster.access(names, { auth: { username: 'root', password: ref } });
    const err = await failureOf(onEtcd(access, (c) => listMembers(c)));
    expect(err.type).toBe('SecretUnavailable');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/Secret etcd\/etcd-root\[password\].*no Kubernetes secret reader/);

    const reads: unknown[] = [];
    const withKube = createSecretResolver({
      kubernetes: {
        read: (r) => {
          reads.push(r);
          return Promise.resolve(Buffer.from(cluster.rootPassword));
        },
      },
    });
    const list = await onEtcd(access, (c) => listMembers(c), withKube);
    expect(list.members).toHaveLength(3);
    expect(reads).toEqual([ref]);
  });

  it('rejects an invalid access description before connecting', async () => {
    const err = await failureOf(onEtcd({ endpoints: { 'etcd-0': 'etcd-0:2379' } }, (c) => listMembers(c)));
    expect(err.type).toBe('InvalidRequest');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/http\(s\):\/\/host:port/);
  });
});
