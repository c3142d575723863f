/**
 * Bad input (issue #6): every case runs the real migration workflow (real activities, the
 * sandbox's two API servers, the article's etcd) to its end and proves that
 *  - it fails with one clear message naming the field or object: `InvalidSpec` (spec errors,
 *    before any activity runs) or `PreflightRefused` (cluster state, only the read-only
 *    preflight activity ran);
 *  - nothing changed: the etcd member IDs, the resourceVersion of every object in the source
 *    and target namespaces (StatefulSets, Services, Pods, PVCs, ConfigMaps, Secrets,
 *    ServiceAccounts) and both clusters' CoreDNS Corefiles are the same before and after.
 * A case that breaks the cluster state takes its "before" snapshot after breaking it (the
 * workflow must not change the broken state either), then restores it and waits until the
 * unmodified spec passes preflight again. What preflight only warns about does not stop the
 * workflow: the last block calls the preflight activity itself and reads its warnings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type V1Service, type V1StatefulSet } from '@kubernetes/client-node';
import { addHostsEntries, removeHostsEntries } from '../../activities/kubernetes/corefile-hosts.js';
import { parseMigrationSpec } from '../../core/spec/validate.js';
import {
  addLearner,
  awaitCleanPreflight,
  baseSpec,
  editCorefile,
  etcdProcessGroup,
  followerOf,
  FIXTURE,
  readCorefile,
  runWorkflow,
  snapshotTouchedState,
  startSuite,
  TARGET,
  UNREACHABLE_CONTEXT,
  withEtcd,
  type SpecDraft,
  type Suite,
  type TouchedState,
} from '../helpers/bad-input.js';
import { apply, loadManifests, waitFor } from '../helpers/kube.js';

let suite: Suite;
beforeAll(async () => {
  suite = await startSuite('bad');
}, 300_000);
afterAll(async () => {
  await suite?.stop();
});

/** A one-member copy of the fixture that runs etcd 3.3 (no volumes, no anti-affinity). */
function oldEtcdManifests(ns: string): [V1StatefulSet, V1Service] {
  const manifests = loadManifests(FIXTURE, ns);
  const sts = structuredClone(manifests.find((o) => o.kind === 'StatefulSet')) as V1StatefulSet;
  const svc = structuredClone(manifests.find((o) => o.kind === 'Service')) as V1Service;
  const meta = { name: 'etcd-old', namespace: ns, labels: { app: 'etcd-old' } };
  const spec = sts.spec!;
  const pod = spec.template.spec!;
  sts.metadata = meta;
  spec.serviceName = 'etcd-old';
  spec.replicas = 1;
  spec.selector = { matchLabels: { app: 'etcd-old' } };
  spec.template.metadata = { labels: { app: 'etcd-old' } };
  delete pod.affinity;
  delete spec.volumeClaimTemplates;
  pod.containers = pod.containers.map((c) => ({
    ...c,
    image: 'quay.io/coreos/etcd:v3.3.25',
    // Its own member names: <pod>.etcd-old, one member.
    args: c.args?.map((a) =>
      a
        .replace(/\.etcd:/g, '.etcd-old:')
        .replace(/--initial-cluster \S+/, '--initial-cluster etcd-old-0=http://etcd-old-0.etcd-old:2380'),
    ),
    volumeMounts: undefined,
  }));
  svc.metadata = meta;
  svc.spec!.selector = { app: 'etcd-old' };
  return [sts, svc];
}

/** ETCD_STRETCH_SHOW_MESSAGES=1 prints every case's failure message (to review them as an operator reads them). */
function show(message: string): void {
  if (process.env.ETCD_STRETCH_SHOW_MESSAGES === '1')
    process.stderr.write(`--- ${expect.getState().currentTestName ?? ''}\n${message}\n`);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A spec error: the workflow fails with InvalidSpec naming `field`, before any activity. */
async function expectInvalidSpec(mutate: (s: SpecDraft) => void, field: string, message: RegExp) {
  const spec = baseSpec(suite);
  mutate(spec);
  const before = await snapshotTouchedState(suite);
  const outcome = await runWorkflow(suite, spec);
  const after = await snapshotTouchedState(suite);
  show(outcome.message);
  expect(outcome.type).toBe('InvalidSpec');
  expect(outcome.message).toMatch(/^migration spec is invalid \(1 error\):\n/);
  expect(outcome.message).toMatch(new RegExp(`^  ${escape(field)}: ${message.source}`, 'm'));
  expect(outcome.activities).toEqual([]);
  expect(after).toEqual(before);
}

interface RefusalCase {
  mutate?: (s: SpecDraft) => void;
  /** Breaks the cluster state; returns what restores it. */
  arrange?: () => Promise<() => Promise<void>>;
  /** Each must match one refusal. */
  refusals: RegExp[];
  /** The refusals must be exactly these (one clear message per problem). */
  only?: boolean;
}

/** A cluster-state error: the workflow fails with PreflightRefused listing the refusals. */
async function expectRefused(c: RefusalCase): Promise<string[]> {
  const spec = baseSpec(suite);
  c.mutate?.(spec);
  const restore = c.arrange ? await c.arrange() : undefined;
  let before: TouchedState;
  let after: TouchedState;
  let outcome;
  try {
    before = await snapshotTouchedState(suite);
    outcome = await runWorkflow(suite, spec);
    after = await snapshotTouchedState(suite);
  } finally {
    if (restore) {
      await restore();
      await awaitCleanPreflight(suite);
    }
  }
  show(outcome.message);
  expect(outcome.type, outcome.message).toBe('PreflightRefused');
  expect(outcome.message).toMatch(/^preflight refused the migration \(nothing was changed\):\n- /);
  for (const r of c.refusals)
    expect(outcome.refusals, `a refusal matching ${r}`).toContainEqual(expect.stringMatching(r));
  if (c.only) expect(outcome.refusals, outcome.message).toHaveLength(c.refusals.length);
  for (const r of outcome.refusals) expect(outcome.message).toContain(r);
  expect(outcome.activities).toEqual(['preflight']);
  expect(after).toEqual(before);
  return outcome.refusals;
}

describe('control', () => {
  it('the unmodified spec is valid and passes preflight; the snapshot covers what the migration touches', async () => {
    expect(parseMigrationSpec(baseSpec(suite)).ok).toBe(true);
    expect(await awaitCleanPreflight(suite)).toEqual([]);
    const s = await snapshotTouchedState(suite);
    expect(s.memberIds).toHaveLength(3);
    expect(Object.keys(s.source)).toEqual(
      expect.arrayContaining([
        'StatefulSet/etcd',
        'Service/etcd',
        'Pod/etcd-0',
        'Pod/etcd-1',
        'Pod/etcd-2',
        'PersistentVolumeClaim/data-etcd-0',
        'PersistentVolumeClaim/data-etcd-1',
        'PersistentVolumeClaim/data-etcd-2',
      ]),
    );
    expect(s.target).toHaveProperty(['ServiceAccount/default']);
    expect(s.corefile.source).toContain('.:53 {');
    expect(s.corefile.target).toContain('.:53 {');
  });

  it("the snapshot sees a change to an object, to the member list and to this migration's DNS block", async () => {
    const before = await snapshotTouchedState(suite);
    const owner = `${suite.ns}/${TARGET}`;
    let learner = '';
    try {
      await suite.source.core.patchNamespacedService(
        { name: 'etcd', namespace: suite.ns, body: { metadata: { labels: { touched: 'yes' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await editCorefile(suite.source, (cf) =>
        addHostsEntries(cf, owner, [{ ip: '198.19.1.250', hostnames: [`${TARGET}-0`] }]),
      );
      learner = await addLearner(suite, 'http://198.18.1.251:2380');
      const after = await snapshotTouchedState(suite);
      expect(after.source['Service/etcd']).not.toBe(before.source['Service/etcd']);
      expect(after.memberIds).toHaveLength(4);
      expect(after.corefile.source).toContain(`198.19.1.250 ${TARGET}-0`);
      expect(after.corefile.target).toBe(before.corefile.target);
    } finally {
      if (learner) await withEtcd(suite, (c) => c.cluster.memberRemove({ ID: learner }));
      await editCorefile(suite.source, (cf) => removeHostsEntries(cf, owner, 'all'));
      await suite.source.core.patchNamespacedService(
        { name: 'etcd', namespace: suite.ns, body: { metadata: { labels: { touched: null } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    const restored = await snapshotTouchedState(suite);
    expect(restored.memberIds).toEqual(before.memberIds);
    expect(restored.corefile).toEqual(before.corefile);
  });
});

describe('spec errors: InvalidSpec before any activity, naming the field', () => {
  it('a field of the wrong type', () =>
    expectInvalidSpec(
      (s) => (s.target.replicas = 'three'),
      'target.replicas',
      /expected a number, got "three"/,
    ));

  it('target StatefulSet name equal to the source one', () =>
    expectInvalidSpec(
      (s) => (s.target.statefulSet = 'etcd'),
      'target.statefulSet',
      /must differ from source\.statefulSet \("etcd"\): pod hostnames become etcd member names/,
    ));

  it('target Service name equal to the source one (member names would share a domain)', () =>
    expectInvalidSpec(
      (s) => (s.target.service = 'etcd'),
      'target.service',
      /must differ from source\.service \("etcd"; .*must not share a domain/,
    ));

  it('a malformed annotation key', () =>
    expectInvalidSpec(
      (s) => (s.target.loadBalancer.annotations = { 'cloud.example.com/internal': 'true', 'bad key!': 'x' }),
      'target.loadBalancer.annotations["bad key!"]',
      /"bad key!" is not a valid annotation key/,
    ));

  it('an annotation value that is not a string', () =>
    expectInvalidSpec(
      (s) => (s.source.loadBalancer.annotations = { 'cloud.example.com/internal': true }),
      'source.loadBalancer.annotations["cloud.example.com/internal"]',
      /expected a string, got boolean true/,
    ));

  it('a malformed source range', () =>
    expectInvalidSpec(
      (s) => (s.source.loadBalancer.sourceRanges = ['198.18.2.0/33']),
      'source.loadBalancer.sourceRanges[0]',
      /"198\.18\.2\.0\/33" is not a valid CIDR/,
    ));

  it('0.0.0.0/0 without the explicit allowAnyone opt-in', () =>
    expectInvalidSpec(
      (s) => (s.target.loadBalancer.sourceRanges = ['0.0.0.0/0']),
      'target.loadBalancer.sourceRanges[0]',
      /"0\.0\.0\.0\/0" admits anyone .*allowAnyone: true/,
    ));

  it('0.0.0.0/0 spelled as two halves without the opt-in', () =>
    expectInvalidSpec(
      (s) => (s.target.loadBalancer.sourceRanges = ['128.0.0.0/1', '0.0.0.0/1']),
      'target.loadBalancer.sourceRanges',
      /together cover every IPv4 address, which admits anyone .*allowAnyone: true/,
    ));

  it('no source ranges at all', () =>
    expectInvalidSpec(
      (s) => delete s.source.loadBalancer.sourceRanges,
      'source.loadBalancer.sourceRanges',
      /is required: list the CIDR ranges/,
    ));

  it('an unknown field (typo)', () =>
    expectInvalidSpec((s) => (s.target.replica = 3), 'target.replica', /unknown field \(check the spelling/));

  it('certificate material in the spec (it would be stored in Temporal history)', () =>
    expectInvalidSpec(
      (s) => (s.target.annotations = { 'example.com/ca': '-----BEGIN CERTIFICATE-----\nMIIB...' }),
      'target.annotations["example.com/ca"]',
      /looks like certificate or key material/,
    ));

  it('host-aliases as the source cluster DNS strategy (would restart the old members)', () =>
    expectInvalidSpec(
      (s) => (s.dns = { sourceCluster: { strategy: 'host-aliases' } }),
      'dns.sourceCluster.strategy',
      /host-aliases cannot be used in the source cluster/,
    ));

  it('an unknown DNS strategy', () =>
    expectInvalidSpec(
      (s) => (s.dns = { targetCluster: { strategy: 'route53' } }),
      'dns.targetCluster.strategy',
      /must be one of "coredns-hosts", "host-aliases", "patch", got "route53"/,
    ));

  it('a malformed duration', () =>
    expectInvalidSpec(
      (s) => (s.deadlines = { ...(s.deadlines as object), catchUp: '3 minutes' }),
      'deadlines.catchUp',
      /"3 minutes" is not a duration/,
    ));

  it('an invalid StatefulSet name', () =>
    expectInvalidSpec(
      (s) => (s.target.statefulSet = 'Etcd_Main'),
      'target.statefulSet',
      /"Etcd_Main" is not a valid StatefulSet name/,
    ));

  it('more target replicas than allowed', () =>
    expectInvalidSpec((s) => (s.target.replicas = 9), 'target.replicas', /must be at most 7, got number 9/));

  it('both a TLS Secret and a CA to issue from', () =>
    expectInvalidSpec(
      (s) => (s.tls = { peer: { secret: { name: 'peer-tls' }, issueFrom: { caSecret: 'peer-ca' } } }),
      'tls.peer',
      /needs exactly one of "secret" or "issueFrom" \(got both\)/,
    ));

  it('a spec that is not a mapping at all', async () => {
    const before = await snapshotTouchedState(suite);
    const outcome = await runWorkflow(suite, 'source: etcd\ntarget: etcd-main');
    show(outcome.message);
    expect(outcome.type).toBe('InvalidSpec');
    expect(outcome.message).toMatch(
      /^ {2}\(document\): expected an object \(a mapping of fields\), got "source: etcd/m,
    );
    expect(outcome.activities).toEqual([]);
    expect(await snapshotTouchedState(suite)).toEqual(before);
  });
});

describe('cluster state: PreflightRefused naming the object, only the read-only preflight ran', () => {
  it('an unknown source context', () =>
    expectRefused({
      mutate: (s) => (s.source.context = 'staging'),
      refusals: [
        /^source\.context "staging": kubeconfig has no context "staging" \(it has: source, target, unreachable\)$/,
      ],
      only: true,
    }));

  it('an unknown target context', () =>
    expectRefused({
      mutate: (s) => (s.target.context = 'prod-eu'),
      refusals: [/^target\.context "prod-eu": kubeconfig has no context "prod-eu"/],
      only: true,
    }));

  it('an unreachable API server', () =>
    expectRefused({
      mutate: (s) => (s.target.context = UNREACHABLE_CONTEXT),
      refusals: [
        /^target\.context "unreachable": cannot reach the API server https:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*tried 3 times\)/,
      ],
      only: true,
    }));

  it('the source StatefulSet is missing', () =>
    expectRefused({
      mutate: (s) => (s.source.statefulSet = 'etcd-gone'),
      refusals: [new RegExp(`^source StatefulSet ${suite.ns}/etcd-gone not found in context source$`)],
    }));

  it('the source namespace is missing', () =>
    expectRefused({
      mutate: (s) => (s.source.namespace = 'no-such-namespace'),
      refusals: [/^source StatefulSet no-such-namespace\/etcd not found in context source$/],
    }));

  it('the source headless Service is missing', () =>
    expectRefused({
      mutate: (s) => (s.source.service = 'etcd-peers'),
      refusals: [new RegExp(`^source headless Service ${suite.ns}/etcd-peers not found$`)],
    }));

  it('the target namespace is missing', () =>
    expectRefused({
      mutate: (s) => (s.target.namespace = `${suite.ns}-missing`),
      refusals: [
        new RegExp(
          `^target namespace "${suite.ns}-missing" does not exist in context target: create it first$`,
        ),
      ],
      only: true,
    }));

  it('the target StatefulSet is already present', () =>
    expectRefused({
      arrange: async () => {
        await suite.target.apps.createNamespacedStatefulSet({
          namespace: suite.ns,
          body: {
            metadata: { name: TARGET },
            spec: {
              replicas: 0,
              serviceName: 'squatter',
              selector: { matchLabels: { app: 'squatter' } },
              template: {
                metadata: { labels: { app: 'squatter' } },
                spec: { containers: [{ name: 'etcd', image: 'quay.io/coreos/etcd:v3.4.18' }] },
              },
            },
          },
        });
        // The controller writes its status once; take the snapshot after that.
        await waitFor(
          'the squatting StatefulSet observed',
          async () =>
            (await suite.target.apps.readNamespacedStatefulSet({ name: TARGET, namespace: suite.ns })).status
              ?.observedGeneration === 1 || undefined,
          { timeoutMs: 30_000 },
        );
        return async () => {
          await suite.target.apps.deleteNamespacedStatefulSet({ name: TARGET, namespace: suite.ns });
        };
      },
      refusals: [
        new RegExp(
          `^StatefulSet ${suite.ns}/${TARGET} already exists in context target: the migration creates it$`,
        ),
      ],
      only: true,
    }));

  it('a target Service of that name exists and is not ours', () =>
    expectRefused({
      arrange: async () => {
        await suite.target.core.createNamespacedService({
          namespace: suite.ns,
          body: { metadata: { name: TARGET }, spec: { clusterIP: 'None', ports: [{ port: 2379 }] } },
        });
        return async () => {
          await suite.target.core.deleteNamespacedService({ name: TARGET, namespace: suite.ns });
        };
      },
      refusals: [
        new RegExp(
          `^Service ${suite.ns}/${TARGET} already exists in context target and was not created by etcd-stretch: choose another target.service$`,
        ),
      ],
      only: true,
    }));

  it("a member load balancer's Service name is taken in the source cluster", () =>
    expectRefused({
      arrange: async () => {
        await suite.source.core.createNamespacedService({
          namespace: suite.ns,
          body: { metadata: { name: 'etcd-1-lb' }, spec: { ports: [{ port: 2379 }] } },
        });
        return async () => {
          await suite.source.core.deleteNamespacedService({ name: 'etcd-1-lb', namespace: suite.ns });
        };
      },
      refusals: [
        new RegExp(
          `^Service ${suite.ns}/etcd-1-lb \\(source\\) exists and was not created by etcd-stretch: the member load balancer of etcd-1 needs that name$`,
        ),
      ],
      only: true,
    }));

  it('a member is down', async () => {
    let stopped = '';
    await expectRefused({
      arrange: async () => {
        const follower = await followerOf(suite);
        stopped = follower.name;
        const group = await etcdProcessGroup(suite, follower.name);
        process.kill(-group, 'SIGSTOP');
        return () => {
          process.kill(-group, 'SIGCONT');
          return Promise.resolve();
        };
      },
      refusals: [
        /^etcd member etcd-\d \(http:\/\/198\.18\.1\.\d+:2379\) is not healthy: .*every member must be healthy/,
      ],
      only: true,
    }).then((refusals) => expect(refusals[0]).toContain(`etcd member ${stopped} `));
  });

  it('a NOSPACE alarm is raised', async () => {
    let on = '';
    await expectRefused({
      arrange: async () => {
        const follower = await followerOf(suite);
        on = follower.name;
        await withEtcd(suite, (c) =>
          c.maintenance.alarm({ action: 'Activate', memberID: follower.id, alarm: 'Nospace' }),
        );
        return async () => {
          await withEtcd(suite, (c) =>
            c.maintenance.alarm({ action: 'Deactivate', memberID: follower.id, alarm: 'Nospace' }),
          );
        };
      },
      refusals: [/^etcd alarm NOSPACE is raised on member etcd-\d \([0-9a-f]+\): the cluster refuses writes/],
      only: true,
    }).then((refusals) => expect(refusals[0]).toContain(`on member ${on} (`));
  });

  it('a learner is already present (an unfinished membership change)', async () => {
    let learner = '';
    await expectRefused({
      arrange: async () => {
        learner = await addLearner(suite, 'http://198.18.1.250:2380');
        return async () => {
          await withEtcd(suite, (c) => c.cluster.memberRemove({ ID: learner }));
        };
      },
      refusals: [
        /^etcd member [0-9a-f]+ \(learner, peer URLs http:\/\/198\.18\.1\.250:2380\) was added but never started: .*etcdctl member remove [0-9a-f]+\)$/,
      ],
      only: true,
    }).then((refusals) => expect(refusals[0]).toContain(BigInt(learner).toString(16)));
  });

  it('etcd too old for learners: the target image', () =>
    expectRefused({
      mutate: (s) => (s.target.image = 'quay.io/coreos/etcd:v3.3.25'),
      refusals: [
        /^image quay\.io\/coreos\/etcd:v3\.3\.25 is etcd 3\.3: the new members join as learners, which needs etcd >= 3\.4/,
      ],
      only: true,
    }));

  it('a target etcd more than one minor version above the source (3.4 -> 3.6)', () =>
    expectRefused({
      mutate: (s) => (s.target.image = 'registry.k8s.io/etcd:3.6.4-0'),
      refusals: [
        /^image registry\.k8s\.io\/etcd:3\.6\.4-0 is etcd 3\.6, more than one minor version above the source's etcd 3\.4 \((etcd-\d, ){2}etcd-\d\): etcd 3\.6 refuses to join a 3\.4 cluster; set target\.image to etcd 3\.4 or 3\.5/,
      ],
      only: true,
    }));

  it('etcd too old for learners: the source StatefulSet runs etcd 3.3', () =>
    expectRefused({
      mutate: (s) => {
        s.source.statefulSet = 'etcd-old';
        s.source.service = 'etcd-old';
      },
      arrange: async () => {
        const [sts, svc] = oldEtcdManifests(suite.ns);
        await apply(suite.source, [sts, svc]);
        await waitFor(
          'the etcd 3.3 pod fails to pull its image',
          async () => {
            const pod = await suite.source.core
              .readNamespacedPod({ name: 'etcd-old-0', namespace: suite.ns })
              .catch(() => undefined);
            return (
              pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull' || undefined
            );
          },
          { timeoutMs: 60_000 },
        );
        return async () => {
          await suite.source.apps.deleteNamespacedStatefulSet({ name: 'etcd-old', namespace: suite.ns });
          await suite.source.core.deleteNamespacedService({ name: 'etcd-old', namespace: suite.ns });
          await waitFor(
            'the etcd 3.3 pod gone',
            async () =>
              (
                await suite.source.core.listNamespacedPod({
                  namespace: suite.ns,
                  labelSelector: 'app=etcd-old',
                })
              ).items.length === 0 || undefined,
            { timeoutMs: 60_000 },
          );
        };
      },
      refusals: [
        /^image quay\.io\/coreos\/etcd:v3\.3\.25 is etcd 3\.3: the new members join as learners, which needs etcd >= 3\.4/,
      ],
    }));

  it("member names that would collide: the source cluster's DNS already has the new names", () => {
    const owner = `another-etcd/${suite.ns}`;
    return expectRefused({
      arrange: async () => {
        await editCorefile(suite.source, (cf) =>
          addHostsEntries(cf, owner, [
            { ip: '198.18.1.250', hostnames: [`${TARGET}-0`, `${TARGET}-0.${TARGET}`] },
          ]),
        );
        return async () => {
          await editCorefile(suite.source, (cf) => removeHostsEntries(cf, owner, 'all'));
          expect((await readCorefile(suite.source)).corefile).not.toContain(owner);
        };
      },
      refusals: [
        new RegExp(
          `^the source cluster's DNS \\(kube-system/coredns\\) already maps ${TARGET}-0 to 198\\.18\\.1\\.250, not through this migration`,
        ),
        new RegExp(
          `^the source cluster's DNS \\(kube-system/coredns\\) already maps ${TARGET}-0\\.${TARGET} to 198\\.18\\.1\\.250`,
        ),
      ],
      only: true,
    });
  });

  it('Service ports that do not match the pods', () =>
    expectRefused({
      arrange: async () => {
        const service = loadManifests(FIXTURE, suite.ns).find((o) => o.kind === 'Service')!;
        const changed = structuredClone(service) as V1Service;
        changed.spec!.ports = [
          { name: 'etcd-server', port: 2390, targetPort: 2390 },
          { name: 'etcd-client', port: 2379 },
        ];
        await apply(suite.source, [changed]);
        return async () => {
          await apply(suite.source, [service]);
        };
      },
      refusals: [
        new RegExp(
          `^source Service ${suite.ns}/etcd port "etcd-server" \\(2390\\) targets port 2390, but the pods of StatefulSet ${suite.ns}/etcd serve etcd on 2379, 2380`,
        ),
      ],
      only: true,
    }));

  it('the source StatefulSet deletes its PVCs on scale-down (the way back)', () =>
    expectRefused({
      arrange: async () => {
        const sts = loadManifests(FIXTURE, suite.ns).find((o) => o.kind === 'StatefulSet')!;
        const changed = structuredClone(sts) as V1StatefulSet;
        changed.spec!.persistentVolumeClaimRetentionPolicy = { whenScaled: 'Delete', whenDeleted: 'Retain' };
        await apply(suite.source, [changed]);
        await waitFor(
          'the StatefulSet change observed',
          async () => {
            const s = await suite.source.apps.readNamespacedStatefulSet({
              name: 'etcd',
              namespace: suite.ns,
            });
            return s.status?.observedGeneration === s.metadata?.generation || undefined;
          },
          { timeoutMs: 30_000 },
        );
        return async () => {
          await apply(suite.source, [sts]);
        };
      },
      refusals: [/^StatefulSet etcd has persistentVolumeClaimRetentionPolicy\.whenScaled: Delete/],
      only: true,
    }));

  it("a missing TLS Secret (the operator's client certificate)", () =>
    expectRefused({
      mutate: (s) => (s.tls = { operator: { name: 'etcd-operator-tls' } }),
      refusals: [
        new RegExp(
          `^tls\\.operator: Secret ${suite.ns}/etcd-operator-tls in context source \\(source cluster\\) not found: create it first$`,
        ),
      ],
      only: true,
    }));

  it("a missing TLS Secret (the new members' peer certificate)", () =>
    expectRefused({
      mutate: (s) => (s.tls = { peer: { secret: { name: 'etcd-peer-tls' } } }),
      refusals: [
        new RegExp(
          `^tls\\.peer\\.secret: Secret ${suite.ns}/etcd-peer-tls in context target \\(target cluster\\) not found: create it first$`,
        ),
      ],
    }));

  it('a TLS Secret without the key the spec names', () =>
    expectRefused({
      mutate: (s) => (s.tls = { operator: { name: 'etcd-operator-tls' } }),
      arrange: async () => {
        await suite.source.core.createNamespacedSecret({
          namespace: suite.ns,
          body: {
            metadata: { name: 'etcd-operator-tls' },
            stringData: { 'ca.crt': 'placeholder', 'tls.crt': 'placeholder' },
          },
        });
        return async () => {
          await suite.source.core.deleteNamespacedSecret({ name: 'etcd-operator-tls', namespace: suite.ns });
        };
      },
      refusals: [
        new RegExp(
          `^tls\\.operator\\.keyKey: Secret ${suite.ns}/etcd-operator-tls in context source \\(source cluster\\) has no key "tls\\.key"$`,
        ),
      ],
      only: true,
    }));

  it('a missing etcd credentials Secret', () =>
    expectRefused({
      mutate: (s) => (s.auth = { secret: { name: 'etcd-root' } }),
      refusals: [
        new RegExp(
          `^auth\\.secret: Secret ${suite.ns}/etcd-root in context source \\(source cluster\\) not found`,
        ),
      ],
      only: true,
    }));

  it('a missing DNS ConfigMap', () =>
    expectRefused({
      mutate: (s) => (s.dns = { sourceCluster: { strategy: 'coredns-hosts', configMap: 'coredns-custom' } }),
      refusals: [/^dns\.sourceCluster: ConfigMap kube-system\/coredns-custom not found in context source$/],
      only: true,
    }));

  it('a missing object for the DNS patch strategy', () =>
    expectRefused({
      mutate: (s) =>
        (s.dns = {
          sourceCluster: {
            strategy: 'patch',
            object: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: 'dns-overrides' },
            ops: [{ op: 'add', path: '/data/{{name}}', value: '{{ip}}' }],
          },
        }),
      refusals: [/^dns\.sourceCluster: ConfigMap kube-system\/dns-overrides not found in context source$/],
      only: true,
    }));
});

describe('warnings, not refusals: preflight passes and says what it could not be sure of', () => {
  it('a target image tag without a version; the 3.4 source runs without --pre-vote; hashKV compared', async () => {
    const draft = baseSpec(suite);
    draft.target.image = 'quay.io/coreos/etcd:latest';
    const parsed = parseMigrationSpec(draft);
    if (!parsed.ok) throw new Error(`spec invalid: ${JSON.stringify(parsed.errors)}`);
    const before = await snapshotTouchedState(suite);
    const report = await suite.activities.preflight({ spec: parsed.spec });
    expect(await snapshotTouchedState(suite)).toEqual(before);
    show(report.warnings.join('\n'));
    expect(report.refusals).toEqual([]);
    expect(report.warnings).toContainEqual(
      expect.stringMatching(
        /^cannot read an etcd version from the tag of image quay\.io\/coreos\/etcd:latest: .* admits only members of 3\.4 or 3\.5 /,
      ),
    );
    expect(report.warnings).toContainEqual(
      expect.stringMatching(/^etcd members (etcd-\d, ){2}etcd-\d run etcd 3\.4 without --pre-vote \(/),
    );
    expect(report.evidence?.hashKv?.agree).toBe(true);
    expect(Object.keys(report.evidence?.hashKv?.hashes ?? {}).sort()).toEqual(['etcd-0', 'etcd-1', 'etcd-2']);
  });
});
