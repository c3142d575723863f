/**
 * How a worker reaches the etcd members: its own sides' members by pod IP, the other side's
 * through the load-balancer addresses the workflow sends (IPs or DNS names, IPv6 in brackets),
 * each with its `<pod>.<service>` TLS server name; and where it reads the Secrets the spec names.
 */
import { describe, expect, it } from 'vitest';
import { ApiException } from '@kubernetes/client-node';
import type { PodSummary } from '../../activities/kubernetes/pods.js';
import { validateAccess } from '../../activities/etcd/connection.js';
import type { KubeClients, KubeEnv } from '../../activities/kubernetes/clients.js';
import { buildEtcdAccess, clientUrl, etcdAccess } from '../../activities/migration/etcd-access.js';
import { secretLocation } from '../../activities/secret-ref.js';
import { makeSpec } from './fixtures/migration-spec.js';

function pod(name: string, ip: string | null, terminating = false): PodSummary {
  return {
    name,
    uid: `uid-${name}`,
    ip,
    ready: true,
    node: 'node-1',
    restartCount: 0,
    phase: 'Running',
    ordinal: Number(name.slice(name.lastIndexOf('-') + 1)),
    revision: null,
    terminating,
    started: true,
  };
}

const perCluster = makeSpec((s) => {
  s.workers = { mode: 'per-cluster' };
});
const withTls = makeSpec((s) => {
  s.workers = { mode: 'per-cluster' };
  s.tls = { client: { secret: { name: 'etcd-main-client-tls' } }, operator: { name: 'etcd-operator' } };
  s.auth = { secret: { name: 'etcd-root', cluster: 'source', namespace: 'etcd-auth' } };
  s.target.service = 'etcd-main-peers';
});

const pods = {
  source: [pod('etcd-0', '198.18.1.10'), pod('etcd-1', '198.18.1.11'), pod('etcd-2', null)],
  target: [pod('etcd-main-0', '198.18.2.10'), pod('etcd-main-1', '198.18.2.11', true)],
};
const memberAddresses = {
  source: { 'etcd-0': '203.0.113.10', 'etcd-1': 'etcd-1.lb.example.com', 'etcd-2': '2001:db8::2' },
  target: { 'etcd-main-0': '203.0.113.20', 'etcd-main-1': 'fd00:2::11' },
};

describe('etcd access: served sides by pod IP, the others through their load balancers', () => {
  it('single mode (a worker for every context): both sides by pod IP, as before', () => {
    const access = buildEtcdAccess(perCluster, pods, { memberAddresses });
    expect(access.endpoints).toEqual({
      'etcd-0': 'http://198.18.1.10:2379',
      'etcd-1': 'http://198.18.1.11:2379',
      'etcd-main-0': 'http://198.18.2.10:2379',
    });
    expect(Object.keys(access.endpoints)).toEqual(['etcd-0', 'etcd-1', 'etcd-main-0']);
  });

  it('the target worker: its own members by pod IP first, the source members by address', () => {
    const access = buildEtcdAccess(
      perCluster,
      { target: pods.target },
      { cluster: 'target', memberAddresses },
    );
    expect(access.endpoints).toEqual({
      'etcd-main-0': 'http://198.18.2.10:2379',
      'etcd-0': 'http://203.0.113.10:2379',
      'etcd-1': 'http://etcd-1.lb.example.com:2379',
      'etcd-2': 'http://[2001:db8::2]:2379',
    });
    // Calls that fall over from member to member try the direct ones first.
    expect(Object.keys(access.endpoints)[0]).toBe('etcd-main-0');
    expect(validateAccess(access).endpoints).toEqual(access.endpoints);
  });

  it('the source worker: pods of the target side are ignored even when given; addresses are used', () => {
    const access = buildEtcdAccess(perCluster, pods, { cluster: 'source', memberAddresses });
    expect(access.endpoints).toEqual({
      'etcd-0': 'http://198.18.1.10:2379',
      'etcd-1': 'http://198.18.1.11:2379',
      'etcd-main-0': 'http://203.0.113.20:2379',
      'etcd-main-1': 'http://[fd00:2::11]:2379',
    });
  });

  it('without addresses for the other side (before the expose phase) it reaches fewer members', () => {
    const access = buildEtcdAccess(perCluster, { source: pods.source }, { cluster: 'source' });
    expect(Object.keys(access.endpoints)).toEqual(['etcd-0', 'etcd-1']);
  });

  it('only the sides asked for', () => {
    const access = buildEtcdAccess(perCluster, pods, {
      cluster: 'target',
      memberAddresses,
      sides: ['source'],
    });
    expect(Object.keys(access.endpoints)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  });

  it('every member keeps its TLS server name <pod>.<service>, whatever address it is dialled at', () => {
    const access = buildEtcdAccess(withTls, { target: pods.target }, { cluster: 'target', memberAddresses });
    expect(access.endpoints['etcd-2']).toBe('https://[2001:db8::2]:2379');
    expect(access.tls?.serverNames).toEqual({
      'etcd-main-0': 'etcd-main-0.etcd-main-peers',
      'etcd-0': 'etcd-0.etcd',
      'etcd-1': 'etcd-1.etcd',
      'etcd-2': 'etcd-2.etcd',
    });
  });

  it('pod IPs in IPv6 are bracketed too', () => {
    expect(clientUrl('http', 'fd00:1::5')).toBe('http://[fd00:1::5]:2379');
    expect(clientUrl('https', '10.0.0.1')).toBe('https://10.0.0.1:2379');
    expect(clientUrl('https', 'a1b2.elb.amazonaws.com')).toBe('https://a1b2.elb.amazonaws.com:2379');
    const v6 = buildEtcdAccess(perCluster, { source: [pod('etcd-0', 'fd00:1::5')] }, { sides: ['source'] });
    expect(v6.endpoints).toEqual({ 'etcd-0': 'http://[fd00:1::5]:2379' });
  });

  it("reads the operator's certificate and the etcd user where the secret-ref rule puts them", () => {
    const single = makeSpec((s) => {
      s.tls = { operator: { name: 'etcd-operator' } };
      s.auth = { secret: { name: 'etcd-root', cluster: 'source', namespace: 'etcd-auth' } };
    });
    expect(buildEtcdAccess(single, pods).tls?.ca).toEqual({
      secret: { context: 'source', namespace: 'default', name: 'etcd-operator', key: 'ca.crt' },
    });
    const source = buildEtcdAccess(withTls, pods, { cluster: 'source', memberAddresses });
    expect(source.tls?.cert).toEqual({
      secret: { context: 'source', namespace: 'default', name: 'etcd-operator', key: 'tls.crt' },
    });
    const target = buildEtcdAccess(withTls, pods, { cluster: 'target', memberAddresses });
    expect(target.tls?.key).toEqual({
      secret: { context: 'target', namespace: 'default', name: 'etcd-operator', key: 'tls.key' },
    });
    expect(target.auth?.password).toEqual({
      secret: { context: 'target', namespace: 'etcd-auth', name: 'etcd-root', key: 'password' },
    });
  });
});

describe('etcd access when a cluster does not answer (rollback without the target)', () => {
  const single = makeSpec();
  const podList = (names: string[], subnet: string) => ({
    items: names.map((name, i) => ({
      metadata: { name, uid: `uid-${name}` },
      status: { podIP: `${subnet}.${10 + i}`, phase: 'Running' },
    })),
  });
  const source = podList(['etcd-0', 'etcd-1', 'etcd-2'], '198.18.1');
  const refused = Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });
  /** A worker's Kubernetes clients: `lists[context]` answers its pods, or throws, or never answers. */
  function env(lists: Record<string, () => Promise<unknown>>, warnings: string[] = []): KubeEnv {
    return {
      clients: (context) =>
        ({ context, core: { listNamespacedPod: () => lists[context]!() } }) as unknown as KubeClients,
      warn: (m) => warnings.push(m),
    };
  }

  it('single mode: the target API server refuses connections; the source members are reached, a warning says why', async () => {
    const warnings: string[] = [];
    const access = await etcdAccess(
      env({ source: () => Promise.resolve(source), target: () => Promise.reject(refused) }, warnings),
      single,
    );
    expect(access.endpoints).toEqual({
      'etcd-0': 'http://198.18.1.10:2379',
      'etcd-1': 'http://198.18.1.11:2379',
      'etcd-2': 'http://198.18.1.12:2379',
    });
    expect(warnings.join()).toMatch(
      /the target cluster did not answer .*cannot reach the API server.*left out/,
    );
  });

  it('an API server that never answers counts as not answering after the list timeout', async () => {
    const access = await etcdAccess(
      env({ source: () => Promise.resolve(source), target: () => new Promise(() => undefined) }),
      single,
      { listTimeoutMs: 50 },
    );
    expect(Object.keys(access.endpoints)).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  });

  it("a served side that does not answer is reached through its members' load balancers when they are known", async () => {
    const access = await etcdAccess(
      env({ source: () => Promise.resolve(source), target: () => Promise.reject(refused) }),
      single,
      { memberAddresses: { target: { 'etcd-main-0': '203.0.113.20' } } },
    );
    expect(access.endpoints['etcd-main-0']).toBe('http://203.0.113.20:2379');
    expect(access.endpoints['etcd-0']).toBe('http://198.18.1.10:2379');
  });

  it("no member left at all: the listing error is the call's; an error other than no answer always is", async () => {
    await expect(
      etcdAccess(
        env({ source: () => Promise.reject(refused), target: () => Promise.reject(refused) }),
        single,
      ),
    ).rejects.toThrow(/cannot reach the API server/);
    const forbidden = new ApiException(403, 'Forbidden', { message: 'pods is forbidden' }, {});
    await expect(
      etcdAccess(
        env({ source: () => Promise.resolve(source), target: () => Promise.reject(forbidden) }),
        single,
      ),
    ).rejects.toThrow(/Forbidden: the worker may not list pods/);
  });
});

describe('secret-ref rule: where a worker reads a Secret the spec names', () => {
  const spec = makeSpec((s) => {
    s.workers = { mode: 'per-cluster' };
    s.source.namespace = 'db';
    s.target.namespace = 'db-new';
  });

  it('a worker that serves the side the reference names reads it there', () => {
    expect(secretLocation(spec, { cluster: 'target', name: 'x' })).toEqual({
      side: 'target',
      context: 'target',
      namespace: 'db-new',
    });
    expect(secretLocation(spec, { cluster: 'source', name: 'x' }, 'source')).toEqual({
      side: 'source',
      context: 'source',
      namespace: 'db',
    });
    expect(secretLocation(spec, { cluster: 'source', namespace: 'vault', name: 'x' }, 'source')).toEqual({
      side: 'source',
      context: 'source',
      namespace: 'vault',
    });
  });

  it("a per-cluster worker reads the other side's reference in its own cluster: its namespace, or the one given", () => {
    expect(secretLocation(spec, { cluster: 'source', name: 'x' }, 'target')).toEqual({
      side: 'target',
      context: 'target',
      namespace: 'db-new',
    });
    expect(secretLocation(spec, { cluster: 'target', name: 'x' }, 'source')).toEqual({
      side: 'source',
      context: 'source',
      namespace: 'db',
    });
    expect(secretLocation(spec, { cluster: 'source', namespace: 'vault', name: 'x' }, 'target')).toEqual({
      side: 'target',
      context: 'target',
      namespace: 'vault',
    });
  });
});
