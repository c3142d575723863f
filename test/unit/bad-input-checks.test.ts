/**
 * The pure parts of the bad-input checks (issue #6) that the sandbox cannot exercise: a member
 * running etcd 3.3 (there is no 3.3 binary), a started learner, members on other ports, ranges
 * that add up to 0.0.0.0/0. The e2e suite (test/e2e/bad-input.test.ts) runs the rest for real.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  etcdVersionRefusals,
  memberUrlRefusals,
  observationRefusals,
  sourcePortRefusals,
  urlPorts,
} from '../../activities/migration/preflight.js';
import type { ClusterObservation, EndpointObservation, MemberInfo } from '../../activities/etcd/types.js';
import { familiesCoveredEntirely, parseCidr } from '../../core/spec/cidr.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import { baseSpecInput, makeSpec } from './fixtures/migration-spec.js';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'article-etcd.yaml');

function fixture(): { sts: V1StatefulSet; svc: V1Service } {
  const docs = YAML.parseAllDocuments(fs.readFileSync(FIXTURE, 'utf8')).map(
    (d) => d.toJS() as { kind: string },
  );
  return {
    sts: docs.find((d) => d.kind === 'StatefulSet') as V1StatefulSet,
    svc: docs.find((d) => d.kind === 'Service') as V1Service,
  };
}

const cidrs = (...texts: string[]) => texts.map((t) => parseCidr(t)!);

describe('source ranges that add up to everyone', () => {
  it('finds a family covered by several ranges, in any order and overlapping', () => {
    expect(familiesCoveredEntirely(cidrs('128.0.0.0/1', '0.0.0.0/1'))).toEqual([4]);
    expect(familiesCoveredEntirely(cidrs('0.0.0.0/2', '64.0.0.0/2', '0.0.0.0/1', '128.0.0.0/1'))).toEqual([
      4,
    ]);
    expect(familiesCoveredEntirely(cidrs('::/1', '8000::/1', '10.0.0.0/8'))).toEqual([6]);
    expect(familiesCoveredEntirely(cidrs('0.0.0.0/0'))).toEqual([4]);
  });

  it('does not flag ranges with a gap', () => {
    expect(familiesCoveredEntirely(cidrs('0.0.0.0/1', '128.0.0.0/2', '224.0.0.0/3'))).toEqual([]);
    expect(familiesCoveredEntirely(cidrs('198.18.1.0/24', '198.18.2.0/24'))).toEqual([]);
    expect(familiesCoveredEntirely(cidrs('::ffff:0.0.0.0/96', 'fd00::/8'))).toEqual([]);
    expect(familiesCoveredEntirely([])).toEqual([]);
  });

  it('the spec refuses them without allowAnyone, and accepts them with it', () => {
    const input = baseSpecInput();
    input.target.loadBalancer = { sourceRanges: ['0.0.0.0/1', '128.0.0.0/1'] };
    const refused = parseMigrationSpec(input);
    expect(refused.ok).toBe(false);
    if (!refused.ok)
      expect(refused.errors).toEqual([
        {
          path: 'target.loadBalancer.sourceRanges',
          message: expect.stringMatching(/together cover every IPv4 address.*allowAnyone: true/) as string,
        },
      ]);
    input.target.loadBalancer = { sourceRanges: ['0.0.0.0/1', '128.0.0.0/1'], allowAnyone: true };
    expect(parseMigrationSpec(input).ok).toBe(true);
  });
});

function endpoint(name: string, version: string): EndpointObservation {
  return {
    name,
    endpoint: `http://${name}:2379`,
    reachable: true,
    status: { version } as EndpointObservation['status'],
    health: { name, endpoint: '', healthy: true, check: 'linearizable-read', tookMs: 1 },
  };
}

describe('etcd too old for learners (there is no etcd 3.3 in the sandbox)', () => {
  it('refuses a member running etcd 3.3, naming it and its version', () => {
    expect(etcdVersionRefusals([endpoint('etcd-0', '3.4.18'), endpoint('etcd-1', '3.3.25')])).toEqual([
      'etcd member etcd-1 runs etcd 3.3.25: the new members join as learners, which needs etcd >= 3.4 on every member; upgrade the source cluster first',
    ]);
  });

  it('accepts 3.4, 3.5, 3.6 and unknown versions', () => {
    expect(
      etcdVersionRefusals([
        endpoint('a', '3.4.0'),
        endpoint('b', '3.5.35'),
        endpoint('c', '3.6.16'),
        endpoint('d', 'unknown'),
      ]),
    ).toEqual([]);
  });
});

const member = (name: string, id: string, extra: Partial<MemberInfo> = {}): MemberInfo => ({
  id,
  name,
  peerURLs: [`http://${name}.etcd:2380`],
  clientURLs: [`http://${name}.etcd:2379`],
  isLearner: false,
  ...extra,
});

function observation(extra: Partial<ClusterObservation>): ClusterObservation {
  return {
    observedAt: '',
    clusterId: '1',
    members: [member('etcd-0', '10'), member('etcd-1', '11')],
    endpoints: [endpoint('etcd-0', '3.4.18'), endpoint('etcd-1', '3.4.18')],
    leaderId: '10',
    alarms: [],
    unobservedMemberIds: [],
    ...extra,
  };
}

describe('what preflight observes in the source etcd', () => {
  it('a healthy cluster: no refusal', () => {
    expect(observationRefusals(observation({}))).toEqual([]);
  });

  it('a started learner: one refusal naming it and its hex ID', () => {
    const obs = observation({
      members: [member('etcd-0', '10'), member('etcd-1', '11', { isLearner: true })],
    });
    expect(observationRefusals(obs)).toEqual([
      'etcd member etcd-1 (b) is a learner: finish that membership change (promote it) or remove it first',
    ]);
  });

  it('a member added but never started: one refusal (not also "unreachable")', () => {
    const obs = observation({
      members: [member('etcd-0', '10'), member('', '255', { clientURLs: [] })],
      unobservedMemberIds: ['255'],
    });
    expect(observationRefusals(obs)).toEqual([
      'etcd member ff (voter, peer URLs http://.etcd:2380) was added but never started: a membership change is unfinished; remove it first (etcdctl member remove ff)',
    ]);
  });

  it('a member down: one refusal naming it', () => {
    const obs = observation({
      endpoints: [
        endpoint('etcd-0', '3.4.18'),
        { name: 'etcd-1', endpoint: 'http://198.18.1.11:2379', reachable: false, error: 'deadline exceeded' },
      ],
      unobservedMemberIds: ['11'],
    });
    expect(observationRefusals(obs)).toEqual([
      'etcd member etcd-1 (http://198.18.1.11:2379) is not healthy: deadline exceeded; every member must be healthy before the migration',
    ]);
  });

  it('a NOSPACE alarm names the member', () => {
    const refusals = observationRefusals(observation({ alarms: [{ memberId: '11', alarm: 'NOSPACE' }] }));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(
      /^etcd alarm NOSPACE is raised on member etcd-1 \(b\): the cluster refuses writes/,
    );
  });

  it('members advertising other ports than the migration connects through', () => {
    expect(memberUrlRefusals([member('etcd-0', '10')])).toEqual([]);
    expect(
      memberUrlRefusals([
        member('etcd-0', '10', {
          peerURLs: ['http://etcd-0.etcd:12380'],
          clientURLs: ['http://etcd-0.etcd:12379'],
        }),
      ]),
    ).toEqual([
      'etcd member etcd-0 advertises peer URLs http://etcd-0.etcd:12380: the migration connects members on peer port 2380 only',
      'etcd member etcd-0 advertises client URLs http://etcd-0.etcd:12379: the migration reaches members on client port 2379',
    ]);
  });
});

describe('ports of the source StatefulSet and Service', () => {
  const spec = makeSpec();

  it('the article fixture: no refusal', () => {
    const { sts, svc } = fixture();
    expect(sourcePortRefusals(spec, sts, svc)).toEqual([]);
  });

  it('reads the ports of URL lists, with shell variables in the host', () => {
    expect(urlPorts('http://$HOSTNAME.etcd:2380,https://[::]:2381/')).toEqual([2380, 2381]);
    expect(urlPorts('http://etcd-0.etcd')).toEqual([]);
  });

  it('etcd on another peer port', () => {
    const { sts, svc } = fixture();
    const c = sts.spec!.template.spec!.containers[0]!;
    c.args = c.args!.map((a) =>
      a.replace('--listen-peer-urls=http://0.0.0.0:2380', '--listen-peer-urls=http://0.0.0.0:12380'),
    );
    expect(sourcePortRefusals(spec, sts, svc)).toEqual([
      expect.stringMatching(
        /^StatefulSet default\/etcd: --listen-peer-urls uses port 12380, but the migration reaches the peer port of every member on 2380/,
      ),
    ]);
  });

  it('a Service port that targets a port the pods do not serve, or an undeclared named port', () => {
    const { sts, svc } = fixture();
    svc.spec!.ports = [
      { name: 'etcd-server', port: 2380, targetPort: 2390 },
      { name: 'etcd-client', port: 2379, targetPort: 'client' },
    ];
    expect(sourcePortRefusals(spec, sts, svc)).toEqual([
      'source Service default/etcd port "etcd-server" (2380) targets port 2390, but the pods of StatefulSet default/etcd serve etcd on 2379, 2380: the Service\'s ports must match the pods (the target\'s headless Service copies them)',
      'source Service default/etcd port "etcd-client" (2379) targets the named port "client", which no container of StatefulSet default/etcd declares',
    ]);
  });

  it('a metrics port and named target ports that the pods declare are fine', () => {
    const { sts, svc } = fixture();
    const c = sts.spec!.template.spec!.containers[0]!;
    c.args = c.args!.map((a) =>
      a.replace('--listen-peer-urls', '--listen-metrics-urls=http://0.0.0.0:2381 --listen-peer-urls'),
    );
    svc.spec!.ports = [
      { name: 'etcd-server', port: 2380, targetPort: 'etcd-server' },
      { name: 'metrics', port: 2381 },
    ];
    expect(sourcePortRefusals(spec, sts, svc)).toEqual([]);
  });
});
