import { describe, expect, it } from 'vitest';
import {
  CorefileError,
  OPENED_BLOCK_SUFFIX,
  OWNED_PLUGIN_MARKER,
  addHostsEntries,
  readHostsEntries,
  removeHostsEntries,
} from '../../activities/kubernetes/corefile-hosts.js';
import { parseCorefileHosts } from '../../sandbox/node-agent/dns-view.js';

// kubeadm's default Corefile (no hosts plugin).
const KUBEADM = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

// A Corefile with its own hosts plugin (block form), a second server block and comments.
const WITH_HOSTS = `# managed by the platform team
example.org:53 {
    file /etc/coredns/example.org.db
}
.:53 {
    errors
    hosts /etc/coredns/custom.hosts {
        10.0.0.1 registry.internal   # the registry
        ttl 60
        fallthrough
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . {$UPSTREAM}
}
`;

// A one-line hosts plugin (no block).
const ONE_LINE = `. {
\thosts /etc/hosts
\tkubernetes cluster.local
\tforward . 8.8.8.8
}`;

const OWNER = 'default/etcd-main';
const ENTRIES = [
  { ip: '198.19.2.10', hostnames: ['etcd-main-0', 'etcd-main-0.etcd-main'] },
  { ip: '198.19.2.11', hostnames: ['etcd-main-1', 'etcd-main-1.etcd-main'] },
];

function resolved(corefile: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of parseCorefileHosts(corefile)) for (const n of e.names) out[n] = e.ip;
  return out;
}

describe('CoreDNS Corefile hosts editor', () => {
  it('adds a hosts plugin of its own, with fallthrough, to a Corefile without one', () => {
    const out = addHostsEntries(KUBEADM, OWNER, ENTRIES);
    expect(out).toBe(
      KUBEADM.replace(
        '.:53 {\n',
        `.:53 {
    ${OWNED_PLUGIN_MARKER}
    hosts {
       # etcd-stretch begin default/etcd-main (managed by etcd-stretch: do not edit)
       198.19.2.10 etcd-main-0 etcd-main-0.etcd-main
       198.19.2.11 etcd-main-1 etcd-main-1.etcd-main
       # etcd-stretch end default/etcd-main
       fallthrough
    }
`,
      ),
    );
    expect(resolved(out)).toEqual({
      'etcd-main-0': '198.19.2.10',
      'etcd-main-0.etcd-main': '198.19.2.10',
      'etcd-main-1': '198.19.2.11',
      'etcd-main-1.etcd-main': '198.19.2.11',
    });
    expect(readHostsEntries(out, OWNER)).toEqual(ENTRIES);
  });

  it('is idempotent: adding the same entries again returns the identical string', () => {
    for (const base of [KUBEADM, WITH_HOSTS, ONE_LINE]) {
      const once = addHostsEntries(base, OWNER, ENTRIES);
      expect(addHostsEntries(once, OWNER, ENTRIES)).toBe(once);
      expect(addHostsEntries(once, OWNER, [ENTRIES[1]!])).toBe(once);
      expect(addHostsEntries(once, OWNER, [])).toBe(once);
    }
  });

  it('removing every entry restores the original byte for byte', () => {
    for (const base of [KUBEADM, WITH_HOSTS, ONE_LINE, KUBEADM.replace(/\n/g, '\r\n')]) {
      const added = addHostsEntries(base, OWNER, ENTRIES);
      expect(added).not.toBe(base);
      const names = ENTRIES.flatMap((e) => e.hostnames);
      expect(removeHostsEntries(added, OWNER, names)).toBe(base);
      expect(removeHostsEntries(added, OWNER, 'all')).toBe(base);
      // one at a time, in any order
      let partial = added;
      for (const n of [...names].reverse()) partial = removeHostsEntries(partial, OWNER, [n]);
      expect(partial).toBe(base);
    }
  });

  it('puts its block first inside an existing hosts plugin, before fallthrough, and leaves the rest untouched', () => {
    const out = addHostsEntries(WITH_HOSTS, OWNER, ENTRIES);
    const lines = out.split('\n');
    const header = lines.findIndex((l) => l.includes('hosts /etc/coredns/custom.hosts {'));
    expect(lines[header + 1]).toBe(
      '        # etcd-stretch begin default/etcd-main (managed by etcd-stretch: do not edit)',
    );
    expect(lines[header + 2]).toBe('        198.19.2.10 etcd-main-0 etcd-main-0.etcd-main');
    expect(out.indexOf('etcd-main-1.etcd-main')).toBeLessThan(out.indexOf('fallthrough'));
    // everything but the inserted lines is unchanged
    const inserted = new Set([header + 1, header + 2, header + 3, header + 4]);
    expect(lines.filter((_, i) => !inserted.has(i)).join('\n')).toBe(WITH_HOSTS);
    expect(resolved(out)['registry.internal']).toBe('10.0.0.1');
    expect(resolved(out)['etcd-main-1']).toBe('198.19.2.11');
    expect(out).not.toContain(OWNED_PLUGIN_MARKER);
  });

  it('opens a block on a one-line hosts plugin and closes it again with the last entry', () => {
    const out = addHostsEntries(ONE_LINE, OWNER, [ENTRIES[0]!]);
    expect(out).toBe(`. {
\thosts /etc/hosts${OPENED_BLOCK_SUFFIX}
\t   # etcd-stretch begin default/etcd-main (managed by etcd-stretch: do not edit)
\t   198.19.2.10 etcd-main-0 etcd-main-0.etcd-main
\t   # etcd-stretch end default/etcd-main
\t}
\tkubernetes cluster.local
\tforward . 8.8.8.8
}`);
    expect(resolved(out)['etcd-main-0.etcd-main']).toBe('198.19.2.10');
    expect(removeHostsEntries(out, OWNER, 'all')).toBe(ONE_LINE);
  });

  it('moves a host name to its new IP and merges names of one IP into one line', () => {
    const once = addHostsEntries(KUBEADM, OWNER, ENTRIES);
    const moved = addHostsEntries(once, OWNER, [
      { ip: '198.19.2.99', hostnames: ['etcd-main-0'] },
      { ip: '198.19.2.11', hostnames: ['etcd-main-0.etcd-main'] },
    ]);
    expect(readHostsEntries(moved, OWNER)).toEqual([
      { ip: '198.19.2.11', hostnames: ['etcd-main-1', 'etcd-main-1.etcd-main', 'etcd-main-0.etcd-main'] },
      { ip: '198.19.2.99', hostnames: ['etcd-main-0'] },
    ]);
  });

  it('keeps the blocks of two owners apart: each removes only its own, the shared plugin goes with the last', () => {
    const a = addHostsEntries(KUBEADM, OWNER, ENTRIES);
    const ab = addHostsEntries(a, 'ns2/other', [{ ip: '198.19.1.5', hostnames: ['etcd-0.etcd'] }]);
    expect(ab.match(/hosts \{/g)).toHaveLength(1);
    expect(readHostsEntries(ab, 'ns2/other')).toEqual([{ ip: '198.19.1.5', hostnames: ['etcd-0.etcd'] }]);
    expect(readHostsEntries(ab, OWNER)).toEqual(ENTRIES);
    const b = removeHostsEntries(ab, OWNER, 'all');
    expect(readHostsEntries(b, OWNER)).toEqual([]);
    expect(resolved(b)).toEqual({ 'etcd-0.etcd': '198.19.1.5' });
    expect(b).toContain(OWNED_PLUGIN_MARKER);
    expect(removeHostsEntries(b, 'ns2/other', ['etcd-0.etcd'])).toBe(KUBEADM);
  });

  it('removing names that are not there changes nothing', () => {
    expect(removeHostsEntries(KUBEADM, OWNER, ['etcd-main-0'])).toBe(KUBEADM);
    const once = addHostsEntries(KUBEADM, OWNER, ENTRIES);
    expect(removeHostsEntries(once, OWNER, ['not-there'])).toBe(once);
    expect(removeHostsEntries(once, 'someone/else', 'all')).toBe(once);
  });

  it('leaves a hosts plugin it did not add in place, even when its own block was the only content', () => {
    const theirs = `.:53 {\n    hosts {\n       fallthrough\n    }\n    forward . /etc/resolv.conf\n}\n`;
    const out = addHostsEntries(theirs, OWNER, [ENTRIES[0]!]);
    expect(removeHostsEntries(out, OWNER, 'all')).toBe(theirs);
  });

  it('handles a server block with braces in placeholders and quoted strings', () => {
    const tricky = `.:53 {\n    forward . {$UPSTREAM} "{not a block}"\n    log . "{remote} {type}"\n}\n`;
    const out = addHostsEntries(tricky, OWNER, [ENTRIES[0]!]);
    expect(resolved(out)['etcd-main-0']).toBe('198.19.2.10');
    expect(removeHostsEntries(out, OWNER, 'all')).toBe(tricky);
  });

  it('refuses what it cannot edit safely', () => {
    expect(() => addHostsEntries('example.org {\n  whoami\n}\n', OWNER, ENTRIES)).toThrow(CorefileError);
    expect(() => addHostsEntries('example.org {\n  whoami\n}\n', OWNER, ENTRIES)).toThrow(
      /root server block/,
    );
    expect(() => addHostsEntries('.:53 {\n  whoami\n', OWNER, ENTRIES)).toThrow(/unbalanced/);
    expect(() => addHostsEntries(KUBEADM, OWNER, [{ ip: 'nope', hostnames: ['a'] }])).toThrow(
      /not an IP address/,
    );
    expect(() => addHostsEntries(KUBEADM, OWNER, [{ ip: '10.0.0.1', hostnames: ['a b'] }])).toThrow(
      /not a valid host name/,
    );
    expect(() => addHostsEntries(KUBEADM, 'bad owner', ENTRIES)).toThrow(/invalid block owner/);
  });
});
