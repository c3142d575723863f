import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { V1Container, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import {
  RenderError,
  finalEtcdContainer,
  renderTargetHeadlessService,
  renderTargetStatefulSet,
} from '../../activities/kubernetes/render-target.js';
import { findFlag, flagValue, renameUrlHosts } from '../../activities/kubernetes/etcd-flags.js';
import { SOURCE_MEMBERS_ANNOTATION } from '../../activities/kubernetes/labels.js';
import { startedFromTemplate } from '../../activities/migration/resume-preflight.js';
import { initialCluster, newMembersFor } from '../../core/planner/members.js';
import { makeSpec } from './fixtures/migration-spec.js';

const fixture = YAML.parseAllDocuments(fs.readFileSync('test/fixtures/article-etcd.yaml', 'utf8')).map(
  (d) => d.toJS() as { kind: string },
);
const articleSts = fixture.find((o) => o.kind === 'StatefulSet') as V1StatefulSet;
const articleSvc = fixture.find((o) => o.kind === 'Service') as V1Service;

const OLD = 'etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380';
const withNew = (n: number) =>
  `${OLD},${Array.from({ length: n }, (_, i) => `etcd-main-${i}=http://etcd-main-${i}.etcd-main:2380`).join(',')}`;

function etcdOf(sts: V1StatefulSet): V1Container {
  return sts.spec!.template.spec!.containers.find((c) => c.name === 'etcd')!;
}

/** The article's script-style container, rewritten to args style or env style. */
function variant(style: 'args' | 'env'): V1StatefulSet {
  const sts = structuredClone(articleSts);
  const c = etcdOf(sts);
  const flags = {
    name: '$(POD_NAME)',
    'initial-advertise-peer-urls': 'http://$(POD_NAME).etcd:2380',
    'initial-cluster-token': 'etcd-cortex-prod',
    'initial-cluster': OLD,
    'advertise-client-urls': 'http://$(POD_NAME).etcd.default.svc.cluster.local:2379',
    'listen-client-urls': 'http://0.0.0.0:2379',
    'listen-peer-urls': 'http://0.0.0.0:2380',
  };
  const podName = { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } };
  if (style === 'args') {
    c.command = ['etcd'];
    c.args = Object.entries(flags).flatMap(([k, v]) =>
      k === 'initial-cluster' ? [`--${k}`, v] : [`--${k}=${v}`],
    );
    c.env = [podName, ...(c.env ?? [])];
  } else {
    c.command = ['/usr/local/bin/etcd'];
    delete c.args;
    c.env = [
      podName,
      ...(c.env ?? []),
      ...Object.entries(flags).map(([k, v]) => ({
        name: `ETCD_${k.toUpperCase().replace(/-/g, '_')}`,
        value: v,
      })),
    ];
  }
  return sts;
}

describe('rendering the target StatefulSet', () => {
  const spec = makeSpec((s) => {
    s.target.image = 'gcr.io/etcd-development/etcd:v3.5.17';
    s.target.resources = { requests: { cpu: '100m', memory: '512Mi' }, limits: { memory: '512Mi' } };
    s.target.storage = { className: 'fast', size: '5Gi' };
    s.target.labels = { team: 'db' };
    s.target.annotations = { 'example.com/owner': 'db-team' };
  });

  it("rewrites the article's sh -c script: joins the existing cluster under the new headless Service", () => {
    const { statefulSet, notes } = renderTargetStatefulSet(articleSts, spec, {
      replicas: 1,
      initialCluster: withNew(1),
    });
    const c = etcdOf(statefulSet);
    const script = c.args![1]!;
    expect(c.command).toEqual(['sh']);
    expect(c.args![0]).toBe('-c');
    expect(script).toContain(`--initial-cluster ${withNew(1)} \\`);
    expect(script).toContain('--initial-advertise-peer-urls=http://$HOSTNAME.etcd-main:2380 \\');
    expect(script).toContain('--advertise-client-urls=http://$HOSTNAME.etcd-main:2379 \\');
    expect(script).toContain('--initial-cluster-token=etcd-cortex-prod');
    expect(script).not.toMatch(/\$HOSTNAME\.etcd:/);
    // initial-cluster-state is not in the script: added as env, never twice
    expect(c.env).toContainEqual({ name: 'ETCD_INITIAL_CLUSTER_STATE', value: 'existing' });
    expect(findFlag(c, 'initial-cluster-state')).toHaveLength(1);
    expect(findFlag(c, 'initial-cluster')).toHaveLength(1);
    expect(notes).toContain('initial-cluster: script');
    expect(notes).toContain('initial-cluster-state: env');
    // everything else in the script is untouched
    const original = etcdOf(articleSts).args![1]!;
    const strip = (s: string) =>
      s.replace(/--initial-cluster \S+/, '').replace(/\$HOSTNAME\.etcd(-main)?:/g, '$HOSTNAME.X:');
    expect(strip(script)).toBe(strip(original));
  });

  it('uses the new name, its own headless Service and selector, OnDelete and Parallel', () => {
    const { statefulSet } = renderTargetStatefulSet(articleSts, spec, {
      replicas: 2,
      initialCluster: withNew(2),
    });
    expect(statefulSet.metadata?.name).toBe('etcd-main');
    expect(statefulSet.metadata?.namespace).toBe('default');
    expect(statefulSet.spec?.serviceName).toBe('etcd-main');
    expect(statefulSet.spec?.replicas).toBe(2);
    expect(statefulSet.spec?.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(statefulSet.spec?.podManagementPolicy).toBe('Parallel');
    expect(statefulSet.spec?.selector).toEqual({
      matchLabels: { 'etcd-stretch.io/statefulset': 'etcd-main' },
    });
    const labels = statefulSet.spec!.template.metadata!.labels!;
    // the source's labels stay (its anti-affinity rule selects app=etcd), plus ours and the spec's
    expect(labels).toEqual({ app: 'etcd', team: 'db', 'etcd-stretch.io/statefulset': 'etcd-main' });
    expect(statefulSet.spec!.template.spec!.affinity).toEqual(articleSts.spec!.template.spec!.affinity);
    expect(statefulSet.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'etcd-stretch',
      team: 'db',
    });
    expect(statefulSet.metadata?.annotations).toEqual({
      'example.com/owner': 'db-team',
      'etcd-stretch.io/source': 'source/default/etcd',
    });
    expect(statefulSet.spec!.template.metadata!.annotations).toEqual({ 'example.com/owner': 'db-team' });
  });

  it("applies the spec's image, resources and storage overrides", () => {
    const { statefulSet } = renderTargetStatefulSet(articleSts, spec, {
      replicas: 1,
      initialCluster: withNew(1),
    });
    const c = etcdOf(statefulSet);
    expect(c.image).toBe('gcr.io/etcd-development/etcd:v3.5.17');
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '512Mi' }, limits: { memory: '512Mi' } });
    expect(statefulSet.spec!.volumeClaimTemplates).toEqual([
      {
        metadata: { name: 'data' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '5Gi' } },
          storageClassName: 'fast',
        },
      },
    ]);
    // without overrides: the source's
    const plain = renderTargetStatefulSet(articleSts, makeSpec(), {
      replicas: 1,
      initialCluster: withNew(1),
    });
    expect(etcdOf(plain.statefulSet).image).toBe('quay.io/coreos/etcd:v3.4.18');
    expect(etcdOf(plain.statefulSet).resources).toEqual(etcdOf(articleSts).resources);
    expect(plain.statefulSet.spec!.volumeClaimTemplates![0]!.spec!.resources!.requests).toEqual({
      storage: '2Gi',
    });
  });

  it('is deterministic and does not modify its input', () => {
    const before = JSON.stringify(articleSts);
    const a = renderTargetStatefulSet(articleSts, spec, { replicas: 3, initialCluster: withNew(3) });
    const b = renderTargetStatefulSet(articleSts, spec, { replicas: 3, initialCluster: withNew(3) });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(articleSts)).toBe(before);
  });

  it("renders the planner's --initial-cluster for every step unchanged", () => {
    const members = newMembersFor(spec, 3);
    for (let n = 1; n <= 3; n++) {
      const value = `${OLD},${initialCluster(members.slice(0, n))}`;
      const { statefulSet } = renderTargetStatefulSet(articleSts, spec, {
        replicas: n,
        initialCluster: value,
      });
      expect(flagValue(etcdOf(statefulSet), 'initial-cluster')).toBe(value);
    }
  });

  it.each(['args', 'env'] as const)(
    'rewrites the %s style the same way, without duplicating a setting',
    (style) => {
      const { statefulSet } = renderTargetStatefulSet(variant(style), spec, {
        replicas: 1,
        initialCluster: withNew(1),
      });
      const c = etcdOf(statefulSet);
      expect(flagValue(c, 'initial-cluster')).toBe(withNew(1));
      expect(flagValue(c, 'initial-cluster-state')).toBe('existing');
      expect(flagValue(c, 'initial-advertise-peer-urls')).toBe('http://$(POD_NAME).etcd-main:2380');
      expect(flagValue(c, 'advertise-client-urls')).toBe(
        'http://$(POD_NAME).etcd-main.default.svc.cluster.local:2379',
      );
      for (const flag of ['initial-cluster', 'initial-cluster-state', 'initial-advertise-peer-urls']) {
        expect(findFlag(c, flag)).toHaveLength(1);
        expect(findFlag(c, flag)[0]!.where).toBe(
          flag === 'initial-cluster-state' || style === 'env' ? 'env' : 'args',
        );
      }
    },
  );

  it('renames the namespace in fully qualified advertise URLs when the namespaces differ', () => {
    expect(
      renameUrlHosts(
        'http://$(POD).etcd.prod.svc.cluster.local:2380,https://x.etcd:2380,http://10.0.0.1:2380',
        {
          fromService: 'etcd',
          toService: 'etcd-main',
          fromNamespace: 'prod',
          toNamespace: 'db',
        },
      ),
    ).toBe('http://$(POD).etcd-main.db.svc.cluster.local:2380,https://x.etcd-main:2380,http://10.0.0.1:2380');
  });

  it('puts hostAliases for the old members into the pod template, keeping unrelated ones of the source', () => {
    const src = structuredClone(articleSts);
    src.spec!.template.spec!.hostAliases = [
      { ip: '10.9.9.9', hostnames: ['metrics.internal'] },
      { ip: '10.1.1.1', hostnames: ['etcd-0'] },
    ];
    const { statefulSet } = renderTargetStatefulSet(src, spec, {
      replicas: 1,
      initialCluster: withNew(1),
      hostAliases: [
        { ip: '198.19.1.10', hostnames: ['etcd-0', 'etcd-0.etcd'] },
        { ip: '198.19.1.11', hostnames: ['etcd-1', 'etcd-1.etcd'] },
      ],
    });
    expect(statefulSet.spec!.template.spec!.hostAliases).toEqual([
      { ip: '10.9.9.9', hostnames: ['metrics.internal'] },
      { ip: '198.19.1.10', hostnames: ['etcd-0', 'etcd-0.etcd'] },
      { ip: '198.19.1.11', hostnames: ['etcd-1', 'etcd-1.etcd'] },
    ]);
    const none = renderTargetStatefulSet(articleSts, spec, { replicas: 1, initialCluster: withNew(1) });
    expect(none.statefulSet.spec!.template.spec!.hostAliases).toBeUndefined();
  });

  it('refuses what it cannot render safely, with a message naming the problem', () => {
    const bad =
      (sts: V1StatefulSet, initial = withNew(1), replicas = 1) =>
      () =>
        renderTargetStatefulSet(sts, spec, { replicas, initialCluster: initial });
    expect(bad(articleSts, OLD)).toThrow(/does not list etcd-main-0/);
    expect(bad(articleSts, withNew(2))).toThrow(/lists etcd-main-1, beyond the newest ordinal 0/);
    expect(bad(articleSts, `${OLD},etcd-main-0=http://etcd-main-0.etcd:2380`)).toThrow(
      /not under its headless Service etcd-main/,
    );
    expect(bad(articleSts, 'garbage')).toThrow(/malformed initial-cluster entry/);
    const byIp = structuredClone(articleSts);
    etcdOf(byIp).args![1] = etcdOf(byIp).args![1]!.replace(
      'http://$HOSTNAME.etcd:2380',
      'http://$(POD_IP):2380',
    );
    expect(bad(byIp)).toThrow(/advertise by IP cannot work across clusters/);
    const configFile = variant('args');
    etcdOf(configFile).args = ['--config-file=/etc/etcd/etcd.yaml'];
    expect(bad(configFile)).toThrow(/config file/);
    const noEtcd = structuredClone(articleSts);
    noEtcd.spec!.template.spec!.containers = [{ name: 'app', image: 'nginx', command: ['nginx'] }];
    expect(bad(noEtcd)).toThrow(RenderError);
    expect(() =>
      renderTargetStatefulSet(
        articleSts,
        { ...spec, target: { ...spec.target, statefulSet: 'etcd' } },
        {
          replicas: 1,
          initialCluster: withNew(1),
        },
      ),
    ).toThrow(/must differ from the source StatefulSet etcd/);
  });

  it('finalizes only --initial-cluster, in place', () => {
    const { statefulSet } = renderTargetStatefulSet(articleSts, spec, {
      replicas: 3,
      initialCluster: withNew(3),
    });
    const final =
      'etcd-main-0=http://etcd-main-0.etcd-main:2380,etcd-main-1=http://etcd-main-1.etcd-main:2380,etcd-main-2=http://etcd-main-2.etcd-main:2380';
    const { index, container, changed } = finalEtcdContainer(statefulSet, final);
    expect(index).toBe(0);
    expect(changed).toBe(true);
    expect(flagValue(container, 'initial-cluster')).toBe(final);
    const before = etcdOf(statefulSet);
    expect(container.args![1]).toBe(before.args![1]!.replace(withNew(3), final));
    expect(container.env).toEqual(before.env);
    const again = structuredClone(statefulSet);
    again.spec!.template.spec!.containers[0] = container;
    expect(finalEtcdContainer(again, final).changed).toBe(false);
  });

  it("renders the headless Service from the source's ports, publishing not-ready addresses", () => {
    expect(renderTargetHeadlessService(articleSvc, spec)).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'etcd-main',
        namespace: 'default',
        labels: {
          team: 'db',
          'app.kubernetes.io/managed-by': 'etcd-stretch',
          'etcd-stretch.io/statefulset': 'etcd-main',
        },
      },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: { 'etcd-stretch.io/statefulset': 'etcd-main' },
        ports: [
          { name: 'etcd-server', port: 2380 },
          { name: 'etcd-client', port: 2379 },
        ],
      },
    });
  });
});

describe('a target made before it recorded the members it started from', () => {
  const spec = makeSpec();
  for (const [style, source] of [
    ['script', articleSts],
    ['args', variant('args')],
    ['env', variant('env')],
  ] as const) {
    it(`tells them by its template's --initial-cluster (${style} style), for resume`, () => {
      const { statefulSet } = renderTargetStatefulSet(source, spec, {
        replicas: 2,
        initialCluster: withNew(2),
      });
      delete statefulSet.metadata?.annotations?.[SOURCE_MEMBERS_ANNOTATION];
      expect(startedFromTemplate(spec, statefulSet)).toEqual(
        [0, 1, 2].map((i) => ({
          name: `etcd-${i}`,
          peerURLs: [`http://etcd-${i}.etcd:2380`],
          isLearner: false,
        })),
      );
    });
  }

  it('tells nothing when its --initial-cluster holds no old member', () => {
    const { statefulSet } = renderTargetStatefulSet(articleSts, spec, {
      replicas: 1,
      initialCluster: withNew(1),
    });
    const etcd = etcdOf(statefulSet);
    etcd.args = etcd.args?.map((a) => a.replace(OLD + ',', ''));
    expect(startedFromTemplate(spec, statefulSet)).toBeNull();
  });
});
