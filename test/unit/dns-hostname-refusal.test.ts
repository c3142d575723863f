/**
 * Load balancers known by a DNS name: host-aliases and patch write IPs, so they refuse such an
 * address before any API call (nothing half applied); coredns-hosts takes it.
 */
import { describe, expect, it } from 'vitest';
import type { ClientsForContext, KubeEnv } from '../../activities/kubernetes/clients.js';
import { applyDnsEntries } from '../../activities/kubernetes/dns.js';
import { PreconditionFailed } from '../../activities/kubernetes/errors.js';
import { makeSpec } from './fixtures/migration-spec.js';

/** Every Kubernetes call starts by asking for a context's clients: this records each ask and fails it. */
function recordingEnv(): { env: KubeEnv; asked: string[] } {
  const asked: string[] = [];
  const clients: ClientsForContext = (context) => {
    asked.push(context);
    throw new Error(`no API call expected (asked for context ${context})`);
  };
  return { env: { clients }, asked };
}

const LB = 'a1b2-0.elb.eu-west-1.amazonaws.com';
const entries = [
  { ip: '198.19.1.10', hostnames: ['etcd-1', 'etcd-1.etcd'] },
  { ip: LB, hostnames: ['etcd-0', 'etcd-0.etcd'] },
];

describe('a load balancer that reports a hostname', () => {
  it('host-aliases refuses it before any API call, naming the member, the hostname and the fix', async () => {
    const spec = makeSpec();
    const { env, asked } = recordingEnv();
    const refusal = applyDnsEntries(env, {
      spec,
      side: 'target',
      strategy: spec.dns.targetCluster,
      entries,
    });
    await expect(refusal).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(refusal).rejects.toThrow(
      `the target cluster cannot resolve member etcd-0 (load balancer ${LB}) by host-aliases`,
    );
    await expect(refusal).rejects.toThrow(
      /Use dns\.targetCluster\.strategy: coredns-hosts for the target cluster/,
    );
    expect(asked).toEqual([]);
    expect(spec.dns.targetCluster.strategy).toBe('host-aliases');
  });

  it('patch refuses it the same way', async () => {
    const spec = makeSpec((s) => {
      s.dns = {
        sourceCluster: {
          strategy: 'patch',
          object: { apiVersion: 'deckhouse.io/v1alpha1', kind: 'ModuleConfig', name: 'kube-dns' },
          ops: [{ op: 'add', path: '/spec/settings/hosts/-', value: { domain: '{{name}}', ip: '{{ip}}' } }],
        },
      };
    });
    const { env, asked } = recordingEnv();
    const refusal = applyDnsEntries(env, { spec, side: 'source', strategy: spec.dns.sourceCluster, entries });
    await expect(refusal).rejects.toThrow(
      /by patch: .*\{\{ip\}\}.*Use dns\.sourceCluster\.strategy: coredns-hosts/,
    );
    expect(asked).toEqual([]);
  });

  it('coredns-hosts takes it (it goes on to read the Corefile)', async () => {
    const spec = makeSpec();
    const { env, asked } = recordingEnv();
    await expect(
      applyDnsEntries(env, { spec, side: 'source', strategy: spec.dns.sourceCluster, entries }),
    ).rejects.toThrow(/no API call expected/);
    expect(asked).toEqual(['source']);
  });
});
