/**
 * Corefile edits for load balancers that report a hostname: `rewrite name exact` lines in a
 * block of their own, beside the hosts block of IP entries, every other byte kept.
 */
import { describe, expect, it } from 'vitest';
import {
  CorefileError,
  OWNED_PLUGIN_MARKER,
  readHostsEntries,
} from '../../activities/kubernetes/corefile-hosts.js';
import {
  addRewrites,
  foreignRewrites,
  readRewrites,
  removeRewrites,
  rewritesBeginMarker,
} from '../../activities/kubernetes/corefile-rewrites.js';
import {
  addMemberEntries,
  readMemberEntries,
  removeMemberEntries,
} from '../../activities/kubernetes/corefile-entries.js';

const KUBEADM = `.:53 {
    errors
    health {
       lameduck 5s
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    reload
}
`;

// An operator's own rewrite and a second server block.
const WITH_REWRITE = `example.org:53 {
    file /etc/coredns/example.org.db
}
.:53 {
\terrors
\trewrite name suffix .corp.internal .corp.example.com answer auto
\tkubernetes cluster.local
\tforward . {$UPSTREAM}
}
`;

const OWNER = 'default/etcd-main';
const LB0 = 'a1b2-0.elb.eu-west-1.amazonaws.com';
const LB1 = 'a1b2-1.elb.eu-west-1.amazonaws.com';
const REWRITES = [
  { name: 'etcd-main-0', to: LB0 },
  { name: 'etcd-main-0.etcd-main', to: LB0 },
  { name: 'etcd-main-1', to: LB1 },
];

/** The rewrite rules a CoreDNS would load from the root server block, in order. */
function rootRewrites(corefile: string): string[] {
  const root = corefile.slice(corefile.indexOf('.:53 {'));
  return root
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l.startsWith('rewrite '));
}

describe('Corefile rewrites for load balancers known by name', () => {
  it('puts its block first in the root server block, one exact rule per name', () => {
    const out = addRewrites(KUBEADM, OWNER, REWRITES);
    expect(out).toBe(
      KUBEADM.replace(
        '.:53 {\n',
        `.:53 {
    # etcd-stretch rewrites begin default/etcd-main (managed by etcd-stretch: do not edit)
    rewrite name exact etcd-main-0 ${LB0}
    rewrite name exact etcd-main-0.etcd-main ${LB0}
    rewrite name exact etcd-main-1 ${LB1}
    # etcd-stretch rewrites end default/etcd-main
`,
      ),
    );
    expect(readRewrites(out, OWNER)).toEqual(REWRITES);
  });

  it("comes before the operator's own rewrite rules (the first matching rule stops), in the root block only", () => {
    const out = addRewrites(WITH_REWRITE, OWNER, REWRITES);
    expect(rootRewrites(out)).toEqual([
      `rewrite name exact etcd-main-0 ${LB0}`,
      `rewrite name exact etcd-main-0.etcd-main ${LB0}`,
      `rewrite name exact etcd-main-1 ${LB1}`,
      'rewrite name suffix .corp.internal .corp.example.com answer auto',
    ]);
    expect(out.startsWith('example.org:53 {\n    file /etc/coredns/example.org.db\n}\n')).toBe(true);
    expect(out).toContain(`\t${rewritesBeginMarker(OWNER)}\n`);
  });

  it('is idempotent, and removing restores the Corefile byte for byte', () => {
    for (const base of [KUBEADM, WITH_REWRITE, KUBEADM.replace(/\n/g, '\r\n')]) {
      const once = addRewrites(base, OWNER, REWRITES);
      expect(once).not.toBe(base);
      expect(addRewrites(once, OWNER, REWRITES)).toBe(once);
      expect(addRewrites(once, OWNER, [REWRITES[2]!])).toBe(once);
      expect(addRewrites(once, OWNER, [])).toBe(once);
      expect(removeRewrites(once, OWNER, 'all')).toBe(base);
      expect(
        removeRewrites(
          once,
          OWNER,
          REWRITES.map((r) => r.name),
        ),
      ).toBe(base);
      let partial = once;
      for (const r of [...REWRITES].reverse()) partial = removeRewrites(partial, OWNER, [r.name]);
      expect(partial).toBe(base);
      expect(removeRewrites(base, OWNER, 'all')).toBe(base);
    }
  });

  it('points a name at a new load balancer in place', () => {
    const once = addRewrites(KUBEADM, OWNER, REWRITES);
    const moved = addRewrites(once, OWNER, [{ name: 'etcd-main-0', to: 'new.elb.amazonaws.com' }]);
    expect(readRewrites(moved, OWNER)).toEqual([
      { name: 'etcd-main-0', to: 'new.elb.amazonaws.com' },
      REWRITES[1],
      REWRITES[2],
    ]);
  });

  it('keeps the blocks of two owners apart', () => {
    const a = addRewrites(KUBEADM, OWNER, REWRITES);
    const ab = addRewrites(a, 'default/etcd-main2', [{ name: 'etcd-main2-0', to: LB1 }]);
    expect(readRewrites(ab, OWNER)).toEqual(REWRITES);
    expect(readRewrites(ab, 'default/etcd-main2')).toEqual([{ name: 'etcd-main2-0', to: LB1 }]);
    const b = removeRewrites(ab, OWNER, 'all');
    expect(readRewrites(b, 'default/etcd-main2')).toEqual([{ name: 'etcd-main2-0', to: LB1 }]);
    expect(removeRewrites(b, 'default/etcd-main2', 'all')).toBe(KUBEADM);
  });

  it("finds other exact rewrites of a name (they would win over ours), not its own block's", () => {
    const corefile = addRewrites(
      `.:53 {
    rewrite name etcd-main-1 Old-LB.example.com.
    rewrite stop name exact etcd-main-2.etcd-main other.example.com answer auto
    rewrite name suffix .etcd-main .elsewhere
    rewrite continue {
        name exact etcd-main-3 third.example.com
        answer name third.example.com etcd-main-3
    }
    kubernetes cluster.local
}
`,
      OWNER,
      REWRITES,
    );
    expect([...foreignRewrites(corefile, OWNER)]).toEqual([
      ['etcd-main-1', 'old-lb.example.com'],
      ['etcd-main-2.etcd-main', 'other.example.com'],
      ['etcd-main-3', 'third.example.com'],
    ]);
    expect(foreignRewrites(corefile, 'ns2/other').get('etcd-main-0')).toBe(LB0);
  });

  it('refuses what CoreDNS would not take as one name', () => {
    expect(() => addRewrites(KUBEADM, OWNER, [{ name: 'etcd-main-0', to: 'a b' }])).toThrow(CorefileError);
    expect(() => addRewrites(KUBEADM, OWNER, [{ name: 'etcd-main-0', to: 'lb{x}' }])).toThrow(
      /not a valid load-balancer host name/,
    );
    expect(() => addRewrites(KUBEADM, OWNER, [{ name: '#x', to: LB0 }])).toThrow(/not a valid host name/);
    expect(() => addRewrites('example.org {\n}\n', OWNER, REWRITES)).toThrow(/root server block/);
  });
});

describe('coredns-hosts entries: IPs in the hosts block, hostnames as rewrites', () => {
  const MIXED = [
    { ip: '198.19.1.10', hostnames: ['etcd-0', 'etcd-0.etcd'] },
    { ip: LB1, hostnames: ['etcd-1', 'etcd-1.etcd'] },
  ];

  it('writes each entry where its address kind belongs, and reads both back', () => {
    const out = addMemberEntries(KUBEADM, OWNER, MIXED);
    expect(readHostsEntries(out, OWNER)).toEqual([MIXED[0]]);
    expect(readRewrites(out, OWNER)).toEqual([
      { name: 'etcd-1', to: LB1 },
      { name: 'etcd-1.etcd', to: LB1 },
    ]);
    expect(readMemberEntries(out, OWNER)).toEqual(MIXED);
    expect(out).toContain(OWNED_PLUGIN_MARKER);
    expect(addMemberEntries(out, OWNER, MIXED)).toBe(out);
    expect(removeMemberEntries(out, OWNER, 'all')).toBe(KUBEADM);
    expect(
      removeMemberEntries(
        out,
        OWNER,
        MIXED.flatMap((e) => e.hostnames),
      ),
    ).toBe(KUBEADM);
  });

  it('a name lives in one place: moving it between an IP and a hostname takes it out of the other', () => {
    const ip = addMemberEntries(KUBEADM, OWNER, [MIXED[0]!]);
    const named = addMemberEntries(ip, OWNER, [{ ip: LB0, hostnames: ['etcd-0.etcd'] }]);
    expect(readMemberEntries(named, OWNER)).toEqual([
      { ip: '198.19.1.10', hostnames: ['etcd-0'] },
      { ip: LB0, hostnames: ['etcd-0.etcd'] },
    ]);
    const back = addMemberEntries(named, OWNER, [MIXED[0]!]);
    expect(readMemberEntries(back, OWNER)).toEqual([MIXED[0]]);
    expect(removeMemberEntries(back, OWNER, 'all')).toBe(KUBEADM);
  });

  it("leaves another owner's hosts entries and rewrites alone", () => {
    const theirs = addMemberEntries(KUBEADM, 'ns2/other', [
      { ip: '10.1.1.1', hostnames: ['x-0'] },
      { ip: LB0, hostnames: ['x-1'] },
    ]);
    const both = addMemberEntries(theirs, OWNER, MIXED);
    expect(removeMemberEntries(both, OWNER, 'all')).toBe(theirs);
    expect(removeMemberEntries(theirs, 'ns2/other', 'all')).toBe(KUBEADM);
  });
});
