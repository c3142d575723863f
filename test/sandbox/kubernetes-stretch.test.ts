/**
 * The Kubernetes side of a whole migration on the two real API servers, run by a worker that
 * holds only the deploy/ roles (a ServiceAccount token per cluster): member load balancers in
 * both clusters, DNS both ways, the target grown 0 -> 1 -> 2 -> 3 with real etcd members
 * joining (through the etcd library), retiring the old members, finalizing, cleanup, undo.
 * Every Kubernetes step runs twice; the second run changes nothing. No joined pod is ever restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import type { V1Pod } from '@kubernetes/client-node';
import { withConnection, type EtcdConnection } from '../../activities/etcd/connection.js';
import { moveLeader } from '../../activities/etcd/maintenance.js';
import {
  addLearner,
  promoteLearner,
  removeMember,
  waitForLearnerCatchUp,
} from '../../activities/etcd/membership.js';
import { listMembers, observeCluster } from '../../activities/etcd/observe.js';
import type { HostEntry } from '../../activities/kubernetes/corefile-hosts.js';
import { discoverSource } from '../../activities/kubernetes/discover-source.js';
import { applyDnsEntries, removeDnsEntries } from '../../activities/kubernetes/dns.js';
import { Forbidden } from '../../activities/kubernetes/errors.js';
import { flagValue } from '../../activities/kubernetes/etcd-flags.js';
import {
  awaitLoadBalancers,
  deleteMemberServices,
  ensureMemberServices,
} from '../../activities/kubernetes/member-services.js';
import type { PodSummary } from '../../activities/kubernetes/pods.js';
import { wakeOnChanges } from '../../activities/kubernetes/change-wake.js';
import { sideOf } from '../../activities/kubernetes/clients.js';
import {
  deleteSourcePvcs,
  deleteSourceStatefulSet,
  scaleSource,
} from '../../activities/kubernetes/source-statefulset.js';
import {
  deleteTarget,
  ensureHeadlessService,
  finalizeTarget,
  scaleTarget,
} from '../../activities/kubernetes/target-statefulset.js';
import { validateMigrationPreconditions } from '../../activities/kubernetes/validate-target.js';
import { createSecretResolver } from '../../activities/secret-ref.js';
import type { Side } from '../../core/activity-contract.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import {
  apply,
  clusterClient,
  createNamespace,
  deleteNamespace,
  inPodNetns,
  loadManifests,
  podNetns,
  readyPods,
  waitFor,
  type ClusterClient,
} from '../helpers/kube.js';
import {
  SOURCE_PODS,
  TARGET_PODS,
  articleSpec,
  corefileOf,
  grantWorker,
  kubeEnv,
  withoutOtherRuns,
  randomSuffix,
  workerKubeConfig,
} from './kubernetes-fixtures.js';

const REQUIRED_FT = 1;
const OLD = ['etcd-0', 'etcd-1', 'etcd-2'];

describe('Kubernetes activities: a whole stretch migration with least-privilege credentials', () => {
  let source: ClusterClient;
  let target: ClusterClient;
  let sourceNs: string;
  let targetNs: string;
  let spec: MigrationSpec;
  let tgt: string;
  let NEW: string[];
  let worker: ReturnType<typeof kubeEnv>;
  const cleanups: (() => Promise<void>)[] = [];
  const heartbeats: unknown[] = [];
  const files = createSecretResolver();
  let corefileBefore: string;
  let lookout: V1Pod;
  const lbs: { source: Record<string, string>; target: Record<string, string> } = { source: {}, target: {} };
  /** Pod IPs by member name (the worker reaches pods directly in the sandbox). */
  const podIps: Record<string, string> = {};
  /** UID and restart count of each new pod, as first seen after its own scale step. */
  const joined: Record<string, { uid: string; restartCount: number; revision: string | null }> = {};

  const hostnames = (member: string, service: string) => [member, `${member}.${service}`];
  const entries = (side: Side, service: string): HostEntry[] =>
    Object.entries(lbs[side]).map(([member, ip]) => ({ ip, hostnames: hostnames(member, service) }));
  /** Runs `fn` on a connection to `members` (by pod IP), closed afterwards. */
  const onMembers = <T>(members: string[], fn: (conn: EtcdConnection) => Promise<T>): Promise<T> =>
    withConnection(
      { endpoints: Object.fromEntries(members.map((m) => [m, `http://${podIps[m]}:2379`])) },
      files,
      fn,
    );

  async function resolves(c: ClusterClient, pod: V1Pod, name: string): Promise<string | undefined> {
    const r = await inPodNetns(podNetns(c, pod), ['getent', 'hosts', name]);
    return r.ok ? r.stdout.split(/\s+/)[0] : undefined;
  }

  function expectJoinedUntouched(pods: PodSummary[]): void {
    for (const [name, seen] of Object.entries(joined)) {
      const now = pods.find((p) => p.name === name);
      expect(now, `${name} still exists`).toBeDefined();
      expect({ name, uid: now!.uid, restartCount: now!.restartCount, revision: now!.revision }).toEqual({
        name,
        ...seen,
      });
    }
  }

  beforeAll(async () => {
    source = clusterClient('source');
    target = clusterClient('target');
    sourceNs = await createNamespace(source, 'k8s-str');
    targetNs = await createNamespace(target, 'k8s-str');
    tgt = `em${randomSuffix()}`;
    NEW = [0, 1, 2].map((i) => `${tgt}-${i}`);
    spec = articleSpec({ sourceNs, targetNs, targetStatefulSet: tgt });
    corefileBefore = await corefileOf(source);
    const suffix = randomSuffix();
    const src = await grantWorker(source, 'deploy/rbac-source.yaml', sourceNs, suffix);
    const dst = await grantWorker(target, 'deploy/rbac-target.yaml', targetNs, suffix);
    cleanups.push(src.cleanup, dst.cleanup);
    worker = kubeEnv({
      kubeconfig: workerKubeConfig({ source: src.token, target: dst.token }),
      heartbeat: (d) => heartbeats.push(d),
      warn: () => undefined,
    });
    await apply(source, loadManifests('test/fixtures/article-etcd.yaml', sourceNs));
    // A pod to look at the source cluster's DNS from, after the old members are gone.
    await source.core.createNamespacedPod({
      namespace: sourceNs,
      body: {
        metadata: { name: 'lookout' },
        spec: {
          containers: [
            { name: 'sleep', image: 'gcr.io/etcd-development/etcd:v3.5.17', command: ['sleep', '3600'] },
          ],
        },
      },
    });
    const pods = await readyPods(source, sourceNs, 'app=etcd', 3);
    for (const p of pods) podIps[p.metadata!.name!] = p.status!.podIP!;
    lookout = await waitFor(
      'the lookout pod to run',
      async () => {
        const p = await source.core.readNamespacedPod({ name: 'lookout', namespace: sourceNs });
        return p.status?.podIP && p.status.containerStatuses?.[0]?.state?.running ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const writer = new Etcd3({ hosts: `http://${podIps['etcd-0']}:2379` });
    try {
      for (let i = 0; i < 100; i++) await writer.put(`stretch/${i}`).value(`v${i}`);
    } finally {
      writer.close();
    }
  });

  afterAll(async () => {
    // Only our own entries; the rest of the Corefile is never touched.
    if (spec) {
      await removeDnsEntries(kubeEnv()(), {
        spec,
        side: 'source',
        strategy: spec.dns.sourceCluster,
        hostnames: 'all',
      }).catch(() => undefined);
    }
    for (const c of cleanups) await c();
    await deleteNamespace(source, sourceNs);
    await deleteNamespace(target, targetNs);
  });

  it('checks the preconditions with the worker token: nothing refused', async () => {
    const report = await validateMigrationPreconditions(worker(), { spec });
    expect(report.refusals).toEqual([]);
    const d = await discoverSource(worker(), { spec });
    expect(d.pods.map((p) => p.name)).toEqual(OLD);
  });

  it('may watch the pods and Services its waits watch (deploy/rbac-*.yaml), in both clusters', async () => {
    // A watch the RBAC refuses would leave the waits polling, silently: its first events must come.
    for (const side of ['source', 'target'] as const) {
      for (const kind of ['pods', 'services'] as const) {
        const wake = wakeOnChanges(sideOf(worker(), spec, side), kind);
        try {
          if (side === 'target' && kind === 'pods') {
            // The target namespace has no pods yet: one appears.
            await target.core.createNamespacedPod({
              namespace: targetNs,
              body: {
                metadata: { name: 'watched' },
                spec: { containers: [{ name: 'c', image: 'gcr.io/etcd-development/etcd:v3.5.17' }] },
              },
            });
          }
          if (side === 'target' && kind === 'services') {
            await target.core.createNamespacedService({
              namespace: targetNs,
              body: { metadata: { name: 'watched' }, spec: { ports: [{ port: 1 }], clusterIP: 'None' } },
            });
          }
          await waitFor(`a ${kind} event in ${side}`, () => Promise.resolve(wake.changes > 0 || undefined), {
            timeoutMs: 15_000,
          });
        } finally {
          wake.stop();
        }
      }
    }
    await target.core.deleteNamespacedPod({ name: 'watched', namespace: targetNs, gracePeriodSeconds: 0 });
    await target.core.deleteNamespacedService({ name: 'watched', namespace: targetNs });
  });

  it('exposes every member through its own load balancer in both clusters', async () => {
    const first = await ensureHeadlessService(worker(), { spec, side: 'target' });
    expect(first).toEqual({ service: tgt, created: true, changed: true });
    expect(await ensureHeadlessService(worker(), { spec, side: 'target' })).toEqual({
      service: tgt,
      created: false,
      changed: false,
    });
    for (const [side, members] of [
      ['source', OLD],
      ['target', NEW],
    ] as const) {
      const a = await ensureMemberServices(worker(), { spec, side, members });
      expect(a.created).toEqual(members);
      const b = await ensureMemberServices(worker(), { spec, side, members });
      expect(b).toEqual({ created: [], updated: [], unchanged: members, warnings: [] });
      const r = await awaitLoadBalancers(worker(), { spec, side, members, timeoutMs: 60_000 });
      expect(Object.keys(r.addresses)).toEqual(members);
      for (const ip of Object.values(r.addresses))
        expect(ip).toMatch(side === 'source' ? /^198\.19\.1\./ : /^198\.19\.2\./);
      expect(new Set(Object.values(r.addresses)).size).toBe(3);
      lbs[side] = r.addresses;
    }
    const svc = await source.core.readNamespacedService({ name: 'etcd-1-lb', namespace: sourceNs });
    expect(svc.spec).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      publishNotReadyAddresses: true,
      loadBalancerSourceRanges: [TARGET_PODS],
      selector: { 'statefulset.kubernetes.io/pod-name': 'etcd-1' },
    });
    expect(svc.spec?.ports?.map((p) => p.port)).toEqual([2380, 2379]);
    const tsvc = await target.core.readNamespacedService({ name: `${tgt}-0-lb`, namespace: targetNs });
    expect(tsvc.spec?.loadBalancerSourceRanges).toEqual([SOURCE_PODS]);
    const headless = await target.core.readNamespacedService({ name: tgt, namespace: targetNs });
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  });

  it("makes the source cluster resolve the new members' names (CoreDNS hosts), only this run's block", async () => {
    const add = () =>
      applyDnsEntries(worker(), {
        spec,
        side: 'source',
        strategy: spec.dns.sourceCluster,
        entries: entries('target', tgt),
      });
    expect(await add()).toMatchObject({ strategy: 'coredns-hosts', changed: true, entries: 6 });
    expect(await add()).toMatchObject({ changed: false });
    const corefile = await corefileOf(source);
    expect(corefile).toContain(`# etcd-stretch begin ${targetNs}/${tgt}`);
    for (const name of [`${tgt}-0`, `${tgt}-2.${tgt}`]) {
      const member = name.split('.')[0]!;
      const ip = await waitFor(
        `${name} to resolve in the source cluster`,
        () => resolves(source, lookout, name),
        {
          timeoutMs: 20_000,
        },
      );
      expect(ip).toBe(lbs.target[member]);
    }
    // Before the target StatefulSet exists, host-aliases entries are rendered by scaleTarget.
    expect(
      await applyDnsEntries(worker(), {
        spec,
        side: 'target',
        strategy: spec.dns.targetCluster,
        entries: entries('source', 'etcd'),
      }),
    ).toMatchObject({ strategy: 'host-aliases', deferred: true, changed: false });
  });

  it('grows the target 0 -> 1 -> 2 -> 3 with real members joining, never restarting a joined pod', async () => {
    const hostAliases = entries('source', 'etcd');
    for (let k = 0; k < 3; k++) {
      const member = NEW[k]!;
      const voters = [...OLD, ...NEW.slice(0, k)];
      const added = await onMembers(voters, (c) =>
        addLearner(c, {
          name: member,
          peerURLs: [`http://${member}.${tgt}:2380`],
          requiredFaultTolerance: REQUIRED_FT,
        }),
      );
      const r = await scaleTarget(worker(), {
        spec,
        replicas: k + 1,
        initialCluster: added.initialCluster,
        hostAliases,
      });
      expect(r.created).toBe(k === 0);
      expect(r.changed).toBe(true);
      expect(r.member).toBe(member);
      expect(r.previousPodsUntouched).toBe(true);
      expect(r.restartedPods).toEqual([]);
      expectJoinedUntouched(r.pods);
      expect(r.pod.revision).toBe(r.updateRevision);
      podIps[member] = r.pod.ip!;
      // again: nothing changes
      const again = await scaleTarget(worker(), {
        spec,
        replicas: k + 1,
        initialCluster: added.initialCluster,
        hostAliases,
      });
      expect(again.changed).toBe(false);
      expect(again.updateRevision).toBe(r.updateRevision);
      expectJoinedUntouched(again.pods);

      if (k === 0) {
        const pod = await target.core.readNamespacedPod({ name: member, namespace: targetNs });
        expect(await resolves(target, pod, 'etcd-0.etcd')).toBe(lbs.source['etcd-0']);
      }
      const learner = { memberId: added.member.id, name: member };
      await onMembers([...voters, member], (c) =>
        waitForLearnerCatchUp(c, { member: learner, timeoutMs: 120_000 }),
      );
      await onMembers([...voters, member], (c) =>
        promoteLearner(c, { member: learner, requiredFaultTolerance: REQUIRED_FT }),
      );
      // Joined: from now on this pod must keep its UID and restart count whatever the next steps do.
      const pod = await target.core.readNamespacedPod({ name: member, namespace: targetNs });
      joined[member] = {
        uid: pod.metadata!.uid!,
        restartCount: pod.status?.containerStatuses?.[0]?.restartCount ?? 0,
        revision: pod.metadata?.labels?.['controller-revision-hash'] ?? null,
      };
    }
    const list = await onMembers([...OLD, ...NEW], (c) => listMembers(c));
    expect(
      list.members
        .filter((m) => !m.isLearner)
        .map((m) => m.name)
        .sort(),
    ).toEqual([...OLD, ...NEW].sort());
    // Three template revisions (one per initial-cluster), three pods, none rolled.
    expect(new Set(Object.values(joined).map((j) => j.revision)).size).toBe(3);
    const sts = await target.apps.readNamespacedStatefulSet({ name: tgt, namespace: targetNs });
    expect(sts.spec?.updateStrategy?.type).toBe('OnDelete');
    const reader = new Etcd3({ hosts: `http://${podIps[NEW[2]!]}:2379` });
    try {
      expect(await reader.get('stretch/99').string()).toBe('v99');
    } finally {
      reader.close();
    }
    expect(heartbeats.length).toBeGreaterThan(0);
  });

  it('retires the old members one at a time, keeping their PVCs, and finalizes the target without a restart', async () => {
    await onMembers([...OLD, ...NEW], (c) => moveLeader(c, { target: { name: NEW[0]! } }));
    for (let i = 2; i >= 0; i--) {
      const old = OLD[i]!;
      const voters = [...OLD.slice(0, i + 1), ...NEW];
      await onMembers(voters, (c) =>
        removeMember(c, { member: { name: old }, requiredFaultTolerance: REQUIRED_FT }),
      );
      const r = await scaleSource(worker(), { spec, replicas: i });
      expect(r).toEqual({
        replicas: i,
        previousReplicas: i + 1,
        stoppingPods: [old],
        keptPvcs: [`data-${old}`],
      });
      // Its stop has begun: terminating (the kubelet stops etcd) or already gone.
      const left = (await source.core.listNamespacedPod({ namespace: sourceNs })).items;
      expect(left.filter((p) => p.metadata?.name === old && !p.metadata.deletionTimestamp)).toEqual([]);
      const again = await scaleSource(worker(), { spec, replicas: i });
      expect(again).toMatchObject({ replicas: i, previousReplicas: i, stoppingPods: [] });
    }
    const pvcs = (await source.core.listNamespacedPersistentVolumeClaim({ namespace: sourceNs })).items.map(
      (p) => p.metadata?.name,
    );
    expect(pvcs.sort()).toEqual(OLD.map((o) => `data-${o}`));

    const final = NEW.map((m) => `${m}=http://${m}.${tgt}:2380`).join(',');
    const f = await finalizeTarget(worker(), { spec, initialCluster: final });
    expect(f.changed).toBe(true);
    expect((await finalizeTarget(worker(), { spec, initialCluster: final })).changed).toBe(false);
    expectJoinedUntouched(f.pods);
    const sts = await target.apps.readNamespacedStatefulSet({ name: tgt, namespace: targetNs });
    const container = sts.spec!.template.spec!.containers[0]!;
    expect(flagValue(container, 'initial-cluster')).toBe(final);
    expect(flagValue(container, 'initial-cluster-state')).toBe('existing');
    const list = await onMembers(NEW, (c) => listMembers(c));
    expect(list.members.map((m) => m.name).sort()).toEqual([...NEW].sort());
    await waitFor(
      'every new member to report healthy',
      async () => (await onMembers(NEW, observeCluster)).endpoints.every((e) => e.health?.healthy),
      { timeoutMs: 30_000 },
    );
  });

  it('cleans up: DNS entries (the rest of the Corefile byte for byte), member Services, the StatefulSet, PVCs on request', async () => {
    const names = Object.keys(lbs.target).flatMap((m) => hostnames(m, tgt));
    const rm = () =>
      removeDnsEntries(worker(), {
        spec,
        side: 'source',
        strategy: spec.dns.sourceCluster,
        hostnames: names,
      });
    expect(await rm()).toMatchObject({ changed: true });
    expect(await rm()).toMatchObject({ changed: false });
    const owner = `${targetNs}/${tgt}`;
    const after = await corefileOf(source);
    expect(after).not.toContain(`# etcd-stretch begin ${owner}`);
    expect(withoutOtherRuns(after, owner)).toBe(withoutOtherRuns(corefileBefore, owner));
    await waitFor(
      `${tgt}-0.${tgt} to stop resolving in the source cluster`,
      async () => (await resolves(source, lookout, `${tgt}-0.${tgt}`)) === undefined,
      {
        timeoutMs: 20_000,
      },
    );

    const oldNames = OLD.flatMap((m) => hostnames(m, 'etcd'));
    const ha = await removeDnsEntries(worker(), {
      spec,
      side: 'target',
      strategy: spec.dns.targetCluster,
      hostnames: oldNames,
    });
    expect(ha).toMatchObject({ strategy: 'host-aliases', changed: true });
    expect(
      await removeDnsEntries(worker(), {
        spec,
        side: 'target',
        strategy: spec.dns.targetCluster,
        hostnames: oldNames,
      }),
    ).toMatchObject({ changed: false });

    expect(await deleteMemberServices(worker(), { spec, side: 'source', members: OLD })).toEqual({
      deleted: OLD,
    });
    expect(await deleteMemberServices(worker(), { spec, side: 'source', members: OLD })).toEqual({
      deleted: [],
    });

    const del = await deleteSourceStatefulSet(worker(), { spec });
    expect(del).toEqual({
      deletedStatefulSet: true,
      deletedService: true,
      labelledPvcs: OLD.map((o) => `data-${o}`),
    });
    // Nothing of it runs: a pod still terminating after the last scale-down was waited for.
    const oldPods = (await source.core.listNamespacedPod({ namespace: sourceNs })).items.filter((p) =>
      OLD.includes(p.metadata!.name!),
    );
    expect(oldPods).toEqual([]);
    expect(await deleteSourceStatefulSet(worker(), { spec })).toEqual({
      deletedStatefulSet: false,
      deletedService: false,
      labelledPvcs: [],
    });
    expect(
      (await source.core.listNamespacedPersistentVolumeClaim({ namespace: sourceNs })).items,
    ).toHaveLength(3);
    expect(await deleteSourcePvcs(worker(), { spec, members: OLD })).toEqual({
      deleted: OLD.map((o) => `data-${o}`),
    });
    expect(await deleteSourcePvcs(worker(), { spec, members: OLD })).toEqual({ deleted: [] });

    const pods = (await target.core.listNamespacedPod({ namespace: targetNs })).items;
    expectJoinedUntouched(
      pods.map((p) => ({
        name: p.metadata!.name!,
        uid: p.metadata!.uid!,
        restartCount: p.status?.containerStatuses?.[0]?.restartCount ?? 0,
        revision: p.metadata?.labels?.['controller-revision-hash'] ?? null,
      })) as PodSummary[],
    );
  });

  it("refuses a call outside the worker's roles with Forbidden naming the verb and resource", async () => {
    const coredns = {
      strategy: 'coredns-hosts' as const,
      namespace: 'kube-system',
      configMap: 'coredns',
      key: 'Corefile',
    };
    const err = await applyDnsEntries(worker(), {
      spec,
      side: 'target',
      strategy: coredns,
      entries: [{ ip: '198.19.1.200', hostnames: ['not-applied.example'] }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Forbidden);
    expect((err as Forbidden).retryable).toBe(false);
    expect((err as Forbidden).message).toMatch(
      /^Forbidden: the worker may not get configmaps "coredns" in namespace "kube-system" of cluster target; grant it in deploy\/rbac-target\.yaml/,
    );
    const other = await discoverSource(worker(), {
      spec: { ...spec, source: { ...spec.source, namespace: 'default' } },
    }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(Forbidden);
    expect((other as Forbidden).message).toContain(
      'may not get statefulsets.apps "etcd" in namespace "default" of cluster source',
    );
  });

  it('undoes the target side: StatefulSet, its PVCs and its headless Service', async () => {
    const r = await deleteTarget(worker(), { spec });
    expect(r).toEqual({
      replicas: 0,
      stoppedPods: NEW,
      deletedPvcs: NEW.map((m) => `data-${m}`),
      deletedStatefulSet: true,
      deletedService: true,
    });
    expect(await deleteTarget(worker(), { spec })).toEqual({
      replicas: 0,
      stoppedPods: [],
      deletedPvcs: [],
      deletedStatefulSet: false,
      deletedService: false,
    });
    expect(
      (await target.core.listNamespacedPersistentVolumeClaim({ namespace: targetNs })).items.filter(
        (p) => !p.metadata?.deletionTimestamp,
      ),
    ).toEqual([]);
    expect((await deleteMemberServices(worker(), { spec, side: 'target', members: NEW })).deleted).toEqual(
      NEW,
    );
  });
});
