/**
 * A member whose certificate names it only by the wildcard `*.etcd`, as many user-made PKIs do
 * (etcd and etcdctl accept it for `etcd-0.etcd`): the worker's connections check the name by
 * etcd's rules, so gRPC calls (with client-certificate and password authentication) and the
 * HTTPS /metrics read reach it as `etcd-0.etcd`; another name is refused with advice that names
 * only what exists. A real etcd 3.5 over TLS; its set-up uses etcdctl, not the code under test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMembers, memberStatus } from '../../activities/etcd/observe.js';
import type { EtcdAccess } from '../../activities/etcd/types.js';
import { etcdBinary, freePort, waitFor } from '../helpers/etcd-cluster.js';
import { TestPki } from '../helpers/test-pki.js';
import { failureOf, onEtcd } from './helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'etcd-wildcard-'));
const file = (name: string) => join(dir, name);
const rootPassword = 'wildcard-root-pw';
let etcd: ChildProcess | undefined;
let url = '';

function access(serverName: string): EtcdAccess {
  return {
    endpoints: { 'etcd-0': url },
    tls: {
      ca: { file: file('ca.crt') },
      cert: { file: file('operator.crt') },
      key: { file: file('operator.key') },
      serverNames: { 'etcd-0': serverName },
    },
    auth: { username: 'root', password: { file: file('root.password') } },
    timeoutMs: 3_000,
  };
}

beforeAll(async () => {
  const pki = new TestPki();
  const ca = await pki.ca('wildcard-ca');
  const server = await pki.issue(ca, 'etcd', ['*.etcd']);
  const operator = await pki.issue(ca, 'operator');
  pki.dispose();
  for (const [name, text] of [
    ['ca.crt', ca.certPem],
    ['server.crt', server.certPem],
    ['server.key', server.keyPem],
    ['operator.crt', operator.certPem],
    ['operator.key', operator.keyPem],
    ['root.password', `${rootPassword}\n`],
  ] as const)
    writeFileSync(file(name), text, { mode: 0o600 });
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  url = `https://127.0.0.1:${clientPort}`;
  const log = openSync(file('etcd.log'), 'a');
  etcd = spawn(
    etcdBinary('3.5'),
    [
      '--name=etcd-0',
      `--data-dir=${file('data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=etcd-0=http://127.0.0.1:${peerPort}`,
      `--cert-file=${file('server.crt')}`,
      `--key-file=${file('server.key')}`,
      `--trusted-ca-file=${file('ca.crt')}`,
      '--client-cert-auth',
      '--log-level=warn',
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  // The CA verifies the server; etcdctl skips only the name check, which is what is under test.
  const etcdctl = (...args: string[]) =>
    run(etcdBinary('3.5', 'etcdctl'), [
      `--endpoints=${url}`,
      `--cacert=${file('ca.crt')}`,
      `--cert=${file('operator.crt')}`,
      `--key=${file('operator.key')}`,
      '--insecure-skip-tls-verify',
      ...args,
    ]);
  await waitFor('etcd to serve', () => etcdctl('endpoint', 'health').then(() => true), {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  await etcdctl('user', 'add', `root:${rootPassword}`);
  await etcdctl('user', 'grant-role', 'root', 'root');
  await etcdctl('auth', 'enable');
}, 60_000);

afterAll(() => {
  etcd?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('a member certificate for *.etcd', () => {
  it('holds no name but the wildcard (the control: Node alone refuses it for etcd-0.etcd)', async () => {
    const peer = await new Promise<{ san: string | undefined; error: string | undefined }>(
      (resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port: Number(new URL(url).port),
          servername: 'etcd-0.etcd',
          ca: readFileSync(file('ca.crt')),
          cert: readFileSync(file('operator.crt')),
          key: readFileSync(file('operator.key')),
          // The chain only: the name is what the rest of this file checks.
          checkServerIdentity: () => undefined,
        });
        socket.once('secureConnect', () => {
          const cert = socket.getPeerCertificate();
          socket.destroy();
          resolve({ san: cert.subjectaltname, error: socket.authorizationError?.toString() });
        });
        socket.once('error', reject);
      },
    );
    expect(peer.san).toBe('DNS:*.etcd');
    expect(peer.error).toBeUndefined(); // signed by the CA
    // etcd3 with Node's default name check, as the worker connected before.
    const plain = new Etcd3({
      hosts: url,
      credentials: {
        rootCertificate: readFileSync(file('ca.crt')),
        certChain: readFileSync(file('operator.crt')),
        privateKey: readFileSync(file('operator.key')),
      },
      grpcOptions: { 'grpc.ssl_target_name_override': 'etcd-0.etcd' },
      faultHandling: { global: (await import('../../activities/etcd/connection.js')).passThrough },
    });
    try {
      await expect(plain.maintenance.status({ deadline: Date.now() + 3_000 })).rejects.toThrow(
        /altnames|does not match/i,
      );
    } finally {
      plain.close();
    }
  });

  it('serves etcd-0.etcd to the worker: gRPC with client certificate and password, and /metrics', async () => {
    const status = await onEtcd(access('etcd-0.etcd'), (conn) => memberStatus(conn, 'etcd-0'));
    expect(status.isLeader).toBe(true);
    const members = await onEtcd(access('etcd-0.etcd'), (conn) => listMembers(conn));
    expect(members.members.map((m) => m.name)).toEqual(['etcd-0']);
    const metrics = await onEtcd(access('etcd-0.etcd'), (conn) => conn.httpGet('etcd-0', '/metrics'));
    expect(metrics).toContain('etcd_server_has_leader 1');
  });

  it('refuses a name the wildcard does not cover, naming the names and the fix', async () => {
    for (const name of ['etcd-0.etcd-main', 'a.etcd-0.etcd', 'etcd']) {
      const err = await failureOf(onEtcd(access(name), (conn) => listMembers(conn)));
      expect(err.type, name).toBe('TlsHandshakeFailed');
      expect(err.message).toContain(`does not name ${name} (it names DNS:*.etcd;`);
      expect(err.message).toMatch(/its subjectAltName must hold <pod>\.<headless-service>/);
      expect(err.message).not.toMatch(/serverName/);
    }
    await expect(
      onEtcd(access('etcd-0.etcd-main'), (conn) => conn.httpGet('etcd-0', '/metrics')),
    ).rejects.toThrow(/does not name etcd-0\.etcd-main/);
  });
});
