import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { LAYOUTS } from '../../sandbox/config.js';
import { cloudDnsEntries, resolveCloudName, writeCloudDnsRecords } from '../../sandbox/cloud-dns.js';
import { DelayedCorefile, corefileDigest } from '../../sandbox/node-agent/delayed-corefile.js';
import {
  parseCorefileHosts,
  parseCorefileRewrites,
  podHostsFile,
  runningPodViews,
} from '../../sandbox/node-agent/dns-view.js';
import { crossesTheLink, lbHostname } from '../../sandbox/node-agent/load-balancer.js';

const WITH_REWRITES = `.:53 {
    errors
    rewrite name exact etcd-3.etcd.prod.svc.cluster.local a1b2c3-etcd-3-prod.elb.target.sandbox.test answer auto
    rewrite stop name exact Etcd-4.etcd. b.example.test.
    rewrite continue name etcd-5.etcd c.example.test
    rewrite name suffix .old.test .new.test
    rewrite name regex (.*)\\.x\\.test {1}.y.test
    rewrite type ANY HINFO
    rewrite stop {
        name exact etcd-6.etcd d.example.test
        answer name d.example.test etcd-6.etcd
    }
    # rewrite name exact commented.out e.example.test
    hosts {
       198.19.1.10 b.example.test
       fallthrough
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
}
`;

describe('parseCorefileRewrites', () => {
  it('reads exact name rewrites in the one-line and block forms, past continue/stop and answer options', () => {
    expect(parseCorefileRewrites(WITH_REWRITES)).toEqual([
      { from: 'etcd-3.etcd.prod.svc.cluster.local', to: 'a1b2c3-etcd-3-prod.elb.target.sandbox.test' },
      { from: 'etcd-4.etcd', to: 'b.example.test' },
      { from: 'etcd-5.etcd', to: 'c.example.test' },
      { from: 'etcd-6.etcd', to: 'd.example.test' },
    ]);
  });

  it('finds none in a Corefile without the plugin, and the hosts parser is unaffected by it', () => {
    expect(parseCorefileRewrites('.:53 {\n    forward . /etc/resolv.conf\n}\n')).toEqual([]);
    expect(parseCorefileHosts(WITH_REWRITES)).toEqual([{ ip: '198.19.1.10', names: ['b.example.test'] }]);
  });
});

describe('runningPodViews', () => {
  it("names a starting pod in its own hosts file before the API shows the pod's IP", () => {
    const starting: V1Pod = {
      metadata: { name: 'etcd-0', namespace: 'prod', uid: 'u1' },
      spec: { containers: [], hostname: 'etcd-0', subdomain: 'etcd' },
      status: { phase: 'Pending' },
    };
    const gone: V1Pod = { metadata: { name: 'old', namespace: 'prod', uid: 'u2' }, spec: { containers: [] } };
    const views = runningPodViews(
      [
        { uid: 'u1', netns: 'pod-u1', ip: '198.18.2.30' },
        { uid: 'u3', netns: 'pod-u3', ip: '198.18.2.31' },
      ],
      [starting, gone],
    );
    expect(views.map((v) => v.netns)).toEqual(['pod-u1']);
    const file = podHostsFile(views[0]!.pod, [starting], [], []);
    expect(file.split('\n')).toContain('198.18.2.30\tetcd-0.etcd.prod.svc.cluster.local etcd-0.etcd etcd-0');
  });
});

describe('podHostsFile with rewrites and the cloud DNS', () => {
  const pod: V1Pod = {
    metadata: { name: 'p', namespace: 'prod', uid: 'u1' },
    spec: { containers: [] },
    status: { podIP: '198.18.1.20' },
  };
  const cloud = [{ ip: '198.19.2.11', names: ['a1b2c3-etcd-3-prod.elb.target.sandbox.test'] }];

  it('answers a rewritten name with the address its target resolves to, hosts entries first, then the cloud', () => {
    const file = podHostsFile(pod, [pod], [], parseCorefileHosts(WITH_REWRITES), {
      rewrites: parseCorefileRewrites(WITH_REWRITES),
      cloud,
    });
    const lines = file.split('\n');
    expect(lines).toContain('198.19.2.11\tetcd-3.etcd.prod.svc.cluster.local');
    expect(lines).toContain('198.19.1.10\tetcd-4.etcd');
    expect(lines).toContain('198.19.2.11\ta1b2c3-etcd-3-prod.elb.target.sandbox.test');
    // c.example.test and d.example.test resolve nowhere: their sources stay unresolvable.
    expect(file).not.toMatch(/etcd-5\.etcd|etcd-6\.etcd/);
  });

  it('puts a rewrite before a hosts entry of the same name (CoreDNS runs rewrite first)', () => {
    const corefile = `.:53 {\n    rewrite name exact same.test a1b2c3-etcd-3-prod.elb.target.sandbox.test\n    hosts {\n       10.0.0.1 same.test\n    }\n}\n`;
    const file = podHostsFile(pod, [pod], [], parseCorefileHosts(corefile), {
      rewrites: parseCorefileRewrites(corefile),
      cloud,
    });
    expect(file.indexOf('198.19.2.11\tsame.test')).toBeLessThan(file.indexOf('10.0.0.1\tsame.test'));
  });

  it('gives a pod without extra DNS no rewrite or cloud section', () => {
    expect(podHostsFile(pod, [pod], [], [])).not.toMatch(/rewrite|cloud/);
  });
});

describe('DelayedCorefile', () => {
  function delayed() {
    let now = 0;
    const log: string[] = [];
    const d = new DelayedCorefile(
      (m) => log.push(m),
      () => now,
    );
    return { d, log, at: (t: number) => (now = t) };
  }

  it('serves the first Corefile at once and a changed one only after the delay', () => {
    const { d, log, at } = delayed();
    expect(d.observe('one', 30)).toBe(true);
    expect(d.applied).toBe('one');
    at(1000);
    expect(d.observe('two', 30)).toBe(false);
    expect(d.applied).toBe('one');
    expect(d.nextDueInMs()).toBe(30_000);
    at(30_999);
    d.observe('two', 30);
    expect(d.applied).toBe('one');
    at(31_000);
    expect(d.observe('two', 30)).toBe(true);
    expect(d.applied).toBe('two');
    expect(d.nextDueInMs()).toBeUndefined();
    expect(log).toEqual([
      `CoreDNS Corefile ${corefileDigest('two')} seen; the pods' DNS follows in 30 s`,
      `CoreDNS Corefile ${corefileDigest('two')} applied to the pods' DNS`,
    ]);
  });

  it('applies changes in a row each after its own delay, in order', () => {
    const { d, at } = delayed();
    d.observe('one', 10);
    at(1000);
    d.observe('two', 10);
    at(5000);
    d.observe('three', 10);
    at(11_000);
    d.observe('three', 10);
    expect(d.applied).toBe('two');
    at(15_000);
    d.observe('three', 10);
    expect(d.applied).toBe('three');
  });

  it('never lets a change with a shorter delay overtake an earlier one', () => {
    const { d, at } = delayed();
    d.observe('one', 0);
    d.observe('two', 60);
    at(1000);
    d.observe('three', 0);
    expect(d.applied).toBe('one');
    at(61_000);
    d.observe('three', 0);
    expect(d.applied).toBe('three');
  });

  it('applies at once with no delay (the sandbox default)', () => {
    const { d } = delayed();
    d.observe('one', 0);
    expect(d.observe('two', 0)).toBe(true);
    expect(d.applied).toBe('two');
  });
});

describe('load balancers that report a hostname', () => {
  const svc = (name: string, namespace: string): V1Service => ({
    metadata: { name, namespace, uid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
  });

  it('are named AWS style under the cluster, with one DNS label of at most 63 characters', () => {
    expect(lbHostname('target', svc('etcd-3-lb', 'prod'))).toBe(
      '0f1e2d-etcd-3-lb-prod.elb.target.sandbox.test',
    );
    const long = lbHostname('source', svc('x'.repeat(60), 'a-namespace'));
    const label = long.split('.')[0]!;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).not.toMatch(/-$/);
    expect(long.endsWith('.elb.source.sandbox.test')).toBe(true);
  });
});

describe('the link between the clusters', () => {
  it('is crossed by every client outside the cluster pod network: the other cluster and the host', () => {
    expect(crossesTheLink(LAYOUTS.source, '198.18.2.15')).toBe(true);
    expect(crossesTheLink(LAYOUTS.source, '::ffff:198.18.2.15')).toBe(true);
    expect(crossesTheLink(LAYOUTS.source, '198.19.1.10')).toBe(true);
    expect(crossesTheLink(LAYOUTS.source, '198.18.1.15')).toBe(false);
    expect(crossesTheLink(LAYOUTS.source, '::ffff:198.18.1.250')).toBe(false);
  });
});

describe('cloud DNS', () => {
  let dir: string;
  const saved = process.env.ETCD_STRETCH_SANDBOX_DIR;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-dns-'));
    process.env.ETCD_STRETCH_SANDBOX_DIR = dir;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.ETCD_STRETCH_SANDBOX_DIR;
    else process.env.ETCD_STRETCH_SANDBOX_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('merges the records each cluster owns; a cluster rewriting its own leaves the other one alone', () => {
    expect(cloudDnsEntries()).toEqual([]);
    writeCloudDnsRecords('target', { 'b.elb.target.sandbox.test': '198.19.2.11' });
    writeCloudDnsRecords('source', { 'a.elb.source.sandbox.test': '198.19.1.10' });
    writeCloudDnsRecords('source', { 'c.elb.source.sandbox.test': '198.19.1.12' });
    expect(cloudDnsEntries()).toEqual([
      { ip: '198.19.1.12', names: ['c.elb.source.sandbox.test'] },
      { ip: '198.19.2.11', names: ['b.elb.target.sandbox.test'] },
    ]);
    expect(resolveCloudName('b.elb.target.sandbox.test')).toBe('198.19.2.11');
    expect(resolveCloudName('a.elb.source.sandbox.test')).toBeUndefined();
  });
});
