/**
 * awaitDnsResolution's rule, with a scripted resolver: a name counts once it resolves and only
 * to what its entry wants (the IP, or what the load balancer's name resolves to).
 */
import { describe, expect, it } from 'vitest';
import { awaitDnsResolution, type ResolveName } from '../../activities/kubernetes/dns-confirmation.js';
import { DeadlineExceeded } from '../../activities/kubernetes/errors.js';

/** Answers from a script per name: the n-th look at a name gets the n-th answer (the last one repeats). */
function scripted(script: Record<string, string[][]>): { resolve: ResolveName; looks: string[] } {
  const looks: string[] = [];
  const resolve: ResolveName = (name) => {
    const seen = looks.filter((l) => l === name).length;
    looks.push(name);
    const answers = script[name] ?? [[]];
    return Promise.resolve(answers[Math.min(seen, answers.length - 1)]!);
  };
  return { resolve, looks };
}

function recorder() {
  const beats: unknown[] = [];
  return { rc: { heartbeat: (d: unknown) => beats.push(d) }, beats };
}

const LB = 'a1b2-0.elb.eu-west-1.amazonaws.com';

describe('awaitDnsResolution', () => {
  it('waits while a name does not resolve or resolves elsewhere, heartbeating what is pending', async () => {
    const { resolve } = scripted({
      'etcd-0': [[], ['10.96.0.9'], ['198.19.1.10']],
      'etcd-0.etcd': [['198.19.1.10']],
    });
    const { rc, beats } = recorder();
    const r = await awaitDnsResolution({
      entries: [{ ip: '198.19.1.10', hostnames: ['etcd-0', 'etcd-0.etcd'] }],
      where: 'target cluster',
      timeoutMs: 60_000,
      intervalMs: 1,
      resolve,
      rc,
    });
    expect(r.resolved).toEqual({ 'etcd-0': ['198.19.1.10'], 'etcd-0.etcd': ['198.19.1.10'] });
    expect(beats).toEqual([
      { waitingFor: 'dns', pending: ['etcd-0'], seen: ['etcd-0 -> nothing (want 198.19.1.10)'] },
      { waitingFor: 'dns', pending: ['etcd-0'], seen: ['etcd-0 -> 10.96.0.9 (want 198.19.1.10)'] },
    ]);
  });

  it("a name pointed at a load balancer's name counts when it resolves to addresses of that name", async () => {
    const { resolve, looks } = scripted({
      [LB]: [['52.1.1.1', '52.1.1.2']],
      'etcd-main-0': [['52.9.9.9'], ['52.1.1.2']],
    });
    const { rc, beats } = recorder();
    const r = await awaitDnsResolution({
      entries: [{ ip: LB, hostnames: ['etcd-main-0'] }],
      where: 'source cluster',
      timeoutMs: 60_000,
      intervalMs: 1,
      resolve,
      rc,
    });
    expect(r.resolved).toEqual({ 'etcd-main-0': ['52.1.1.2'] });
    expect(beats).toEqual([
      {
        waitingFor: 'dns',
        pending: ['etcd-main-0'],
        seen: ['etcd-main-0 -> 52.9.9.9 (want 52.1.1.1 52.1.1.2)'],
      },
    ]);
    expect(looks).toEqual([LB, 'etcd-main-0', LB, 'etcd-main-0']);
  });

  it('gives up at its deadline, naming the names still pending and what they resolved to', async () => {
    const { resolve } = scripted({ 'etcd-0': [['198.19.1.10']], 'etcd-1': [[]] });
    const { rc } = recorder();
    const wait = awaitDnsResolution({
      entries: [
        { ip: '198.19.1.10', hostnames: ['etcd-0'] },
        { ip: '198.19.1.11', hostnames: ['etcd-1'] },
      ],
      where: 'target cluster',
      timeoutMs: 5,
      intervalMs: 10,
      resolve,
      rc,
    });
    await expect(wait).rejects.toBeInstanceOf(DeadlineExceeded);
    await expect(wait).rejects.toThrow(/the DNS of the target cluster to answer etcd-0, etcd-1/);
    await expect(wait).rejects.toMatchObject({
      details: { last: { pending: ['etcd-1'], seen: ['etcd-1 -> nothing (want 198.19.1.11)'] } },
    });
  });
});
