/**
 * The migration activities: the one set the worker registers (worker/main.ts), one activity per
 * kind of plan step (core/activity-contract.ts), each built from the etcd and Kubernetes
 * libraries. Stateless: each call discovers what it needs (pods, member IDs) afresh, so a
 * retried or re-run call sees the world as it is now. What they throw becomes an
 * `ApplicationFailure` here, once (`withApplicationFailures`).
 */
import { FailureType } from '../../core/failure-types.js';
import type {
  DnsEntryInput,
  Evidence,
  MembershipResult,
  MigrationActivities,
  Side,
  SpecInput,
} from '../../core/activity-contract.js';
import { sidesServedBy } from '../../core/routing/task-queues.js';
import type { DnsStrategy, MigrationSpec } from '../../core/spec/schema.js';
import { defineErrorType, withApplicationFailures } from '../errors.js';
import { resolveRunContext, sleep, type RunContext } from '../run-context.js';
import { createSecretResolver, type SecretResolver } from '../secret-ref.js';
import { withConnection, type EtcdConnection } from '../etcd/connection.js';
import { compact, moveLeader } from '../etcd/maintenance.js';
import { removeMemberNotLeading } from '../etcd/leader-safe-removal.js';
import { addLearner, awaitLearnerLink, promoteLearner, waitForLearnerCatchUp } from '../etcd/membership.js';
import { hashKV, listMembers, observeCluster, observeEndpoints } from '../etcd/observe.js';
import { EtcdClientPool } from '../etcd/client-pool.js';
import { EtcdUnavailable } from '../etcd/errors.js';
import { rollingDefragment } from '../etcd/rolling-defragment.js';
import type { EtcdAccess } from '../etcd/types.js';
import { kubeClientFactory, sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { WrongCluster } from '../kubernetes/errors.js';
import { applyDnsEntries, removeDnsEntries } from '../kubernetes/dns.js';
import { awaitDnsResolution } from '../kubernetes/dns-confirmation.js';
import { deleteMemberCertificates, ensureMemberCertificates } from '../kubernetes/member-certificates.js';
import {
  awaitLoadBalancers,
  deleteMemberServices,
  ensureMemberServices,
} from '../kubernetes/member-services.js';
import { podTrouble, readPod } from '../kubernetes/pods.js';
import { createKubernetesSecretResolver } from '../kubernetes/secrets.js';
import { deleteSourcePvcs, deleteSourceStatefulSet, scaleSource } from '../kubernetes/source-statefulset.js';
import {
  deleteHeadlessService,
  deleteTarget,
  ensureHeadlessService,
  finalizeTarget,
  scaleTarget,
  shrinkTarget,
  stepDeadlineMs,
} from '../kubernetes/target-statefulset.js';
import { acrossTheLink, etcdAccess, sideOfMember } from './etcd-access.js';
import { sideHashKv } from './side-hash-kv.js';
import { toEvidence } from './evidence.js';
import { preflight } from './preflight.js';
import { resumePreflight } from './resume-preflight.js';

export class ConsistencyMismatch extends defineErrorType(FailureType.ConsistencyMismatch, true) {}
export class LearnerPodNotRunning extends defineErrorType(FailureType.LearnerPodNotRunning, false) {}

export interface MigrationActivityDeps {
  /**
   * Path of the kubeconfig with the contexts the specs name; with `cluster` it needs that one
   * context only, and absent it is the Pod's ServiceAccount (in-cluster).
   */
  kubeconfig?: string;
  /** the kubeconfig context this worker serves; absent: every context (single mode) */
  cluster?: string;
  secrets?: SecretResolver;
}

export function createMigrationActivities(deps: MigrationActivityDeps): MigrationActivities {
  const clients = kubeClientFactory(deps.kubeconfig, { cluster: deps.cluster });
  const secrets =
    deps.secrets ??
    createSecretResolver({ kubernetes: createKubernetesSecretResolver({ clients, defaultContext: '' }) });
  const env = (): KubeEnv => ({ clients, rc: resolveRunContext() });
  /** The members of `sides` (default both) as this worker reaches them (etcd-access.ts). */
  const accessFor = ({ spec, memberAddresses }: SpecInput, sides?: Side[]) =>
    etcdAccess(env(), spec, { cluster: deps.cluster, memberAddresses, ...(sides ? { sides } : {}) });
  // Member clients that answered are kept between this worker's steps (client-pool.ts).
  const etcdClients = new EtcdClientPool();
  /** Runs `fn` on a connection to `access`, closed afterwards. */
  const onEtcd = <T>(
    access: EtcdAccess,
    fn: (conn: EtcdConnection, rc: RunContext) => Promise<T>,
  ): Promise<T> => withConnection(access, secrets, (conn) => fn(conn, resolveRunContext()), etcdClients);

  /** hashKV of `members`, heartbeating; one member may hash for as long as a step may take. */
  const hashOf = (spec: MigrationSpec, access: EtcdAccess, members: Set<string>) =>
    onEtcd({ ...access, endpoints: pick(access.endpoints, members) }, (c, rc) =>
      hashKV(c, { callTimeoutMs: stepDeadlineMs(spec) }, rc),
    );

  /** What the run records after a step: every member of the access, their hashKV when asked. */
  async function evidenceOf(input: SpecInput, withHash = true, known?: EtcdAccess): Promise<Evidence> {
    const { spec } = input;
    const access = known ?? (await accessFor(input));
    const obs = await onEtcd(access, observeCluster);
    const voters = new Set(obs.members.filter((m) => !m.isLearner).map((m) => m.name));
    const hash = withHash ? await hashOf(spec, access, voters) : undefined;
    return toEvidence(spec, obs, hash, sidesServedBy(spec, deps.cluster));
  }

  /**
   * A membership step's result, its evidence read on the connection that made the change.
   * `removed`: a member just removed may still answer while it shuts down, and its calls hang
   * or fail, so it is left out.
   */
  async function membership(
    input: SpecInput,
    conn: EtcdConnection,
    member: string,
    memberId: string | null,
    alreadyDone: boolean,
    guard: MembershipResult['guard'] | null,
    { etcdWaitMs, appliedAt }: { etcdWaitMs: number; appliedAt?: string },
    removed?: string,
  ): Promise<MembershipResult> {
    const obs = await observeEndpoints(
      conn,
      conn.names.filter((name) => name !== removed),
    );
    return {
      member,
      memberId: memberId ?? '',
      alreadyDone,
      guard: guard ?? undefined,
      etcdWaitMs,
      ...(appliedAt ? { appliedAt } : {}),
      evidence: toEvidence(input.spec, obs, undefined, sidesServedBy(input.spec, deps.cluster)),
    };
  }

  async function applyDns(
    spec: MigrationSpec,
    side: Side,
    strategy: DnsStrategy,
    entries: DnsEntryInput[],
  ): Promise<number> {
    const r = await applyDnsEntries(env(), { spec, side, strategy, entries });
    return r.entries;
  }

  const activities: MigrationActivities = {
    preflight: (input) =>
      input.resume
        ? resumePreflight({ clients, secrets, cluster: deps.cluster }, input)
        : preflight({ clients, secrets, cluster: deps.cluster }, input),

    observe: (input) => evidenceOf(input, !input.skipHashKv),

    async compact(input) {
      const { keepRevisions } = input;
      const access = await accessFor(input, ['source']);
      const r = await onEtcd(access, (c) => compact(c, { keep: keepRevisions }));
      return { revision: r.revision, compactedTo: r.compactedTo };
    },

    async rollingDefragment(input) {
      const access = await accessFor(input, ['source']);
      const r = await onEtcd(access, (c, rc) =>
        rollingDefragment(
          c,
          // A spec from before this option existed has none: it defragmented every member.
          { disarmAlarms: true, minReclaimableBytes: input.spec.shrink.minReclaimableBytes ?? 0 },
          rc,
        ),
      );
      return { order: r.order, dbSizeBefore: r.totalBefore.dbSize, dbSizeAfter: r.totalAfter.dbSize };
    },

    async ensureHeadlessService({ spec, side, sourceManifests }) {
      const r = await ensureHeadlessService(env(), { spec, side, sourceManifests });
      return { created: r.created };
    },
    async deleteHeadlessService({ spec, side }) {
      await deleteHeadlessService(env(), { spec, side });
    },
    async ensureMemberServices({ spec, side, members }) {
      const r = await ensureMemberServices(env(), { spec, side, members });
      return { created: r.created };
    },
    async deleteMemberServices({ spec, side, members }) {
      await deleteMemberServices(env(), { spec, side, members });
    },
    awaitLoadBalancers: ({ spec, side, members, timeoutMs }) =>
      awaitLoadBalancers(env(), { spec, side, members, timeoutMs }),

    async issueCertificates({ spec, members, addresses }) {
      const r = await ensureMemberCertificates(env(), { spec, members, addresses });
      return {
        secrets: r.secrets.map((x) => ({
          kind: x.kind,
          secret: x.secret,
          issued: x.issued,
          kept: x.kept,
          notAfter: x.notAfter,
        })),
      };
    },
    deleteIssuedCertificates: ({ spec }) => deleteMemberCertificates(env(), { spec }),

    async configureDns({ spec, side, strategy, entries }) {
      return { entries: await applyDns(spec, side, strategy, entries) };
    },
    async removeDns({ spec, side, strategy, hostnames }) {
      await removeDnsEntries(env(), { spec, side, strategy, hostnames });
    },
    awaitDnsResolution: ({ spec, side, entries, timeoutMs }) =>
      awaitDnsResolution({
        entries,
        where: `${side} cluster (context ${spec[side].context})`,
        timeoutMs,
        rc: resolveRunContext(),
      }),

    async addLearner(input) {
      const { member, peerURLs, requiredFaultTolerance } = input;
      return onEtcd(await accessFor(input), async (c, rc) => {
        const r = await addLearner(c, { name: member, peerURLs, requiredFaultTolerance }, rc);
        return membership(input, c, member, r.member.id, r.alreadyPresent, r.verdict, r);
      });
    },
    async removeLearner(input) {
      const { spec, member, memberId, peerURLs, requiredFaultTolerance } = input;
      const access = await accessFor(input);
      return onEtcd(access, async (c, rc) => {
        let id = memberId;
        if (!id) {
          const { members } = await listMembers(c);
          const found =
            members.find((m) => m.name === member) ??
            members.find((m) => !m.name && m.peerURLs.some((u) => peerURLs?.includes(u)));
          if (!found) return { memberId: null, alreadyDone: true }; // never added, or already removed
          id = found.id;
        }
        // Undoing a join: if the new member leads meanwhile, an old member takes over first.
        const r = await removeMemberNotLeading(
          c,
          {
            member: { memberId: id },
            requiredFaultTolerance,
            preferAsLeader: (m) => sideOfMember(spec, m.name) === 'source',
          },
          rc,
        );
        return { memberId: id, alreadyDone: r.alreadyRemoved };
      });
    },
    async scaleTarget({ spec, replicas, initialCluster, hostAliases, sourceManifests }) {
      const r = await scaleTarget(env(), { spec, replicas, initialCluster, hostAliases, sourceManifests });
      return { replicas: r.replicas, created: r.created };
    },
    async shrinkTarget({ spec, replicas, keepHeadlessService }) {
      if (replicas === 0 && !keepHeadlessService) await deleteTarget(env(), { spec });
      else await shrinkTarget(env(), { spec, replicas });
    },
    async awaitCatchUp(input) {
      const { spec, member, memberId, timeoutMs, proveLink } = input;
      const started = Date.now();
      const rc = resolveRunContext();
      const target = sideOf(env(), spec, 'target');
      // A pod that crash-loops or cannot start fails the wait now, not at the deadline.
      const failIfStuck = async () => {
        const pod = await readPod(target, member);
        const trouble = pod && podTrouble(pod);
        if (trouble) throw new LearnerPodNotRunning(`pod ${member} is not running: ${trouble}`);
      };
      // The learner's pod may still be starting: wait for its IP within the same deadline.
      let access = await accessFor(input);
      while (!access.endpoints[member]) {
        await failIfStuck();
        if (Date.now() - started > timeoutMs)
          throw new LearnerPodNotRunning(`pod ${member} did not get an IP within ${timeoutMs} ms`);
        rc.heartbeat({ member, waitingFor: 'pod IP' });
        await sleep(1000);
        access = await accessFor(input);
      }
      const watchdog = new AbortController();
      const podWatch = (async () => {
        while (!watchdog.signal.aborted) {
          await failIfStuck();
          await sleep(2000);
        }
      })();
      try {
        const r = await Promise.race([
          onEtcd(access, (c) =>
            waitForLearnerCatchUp(
              c,
              {
                member: memberId ? { memberId, name: member } : { name: member },
                timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)),
              },
              rc,
            ),
          ),
          podWatch.then(() => undefined),
        ]);
        if (!r) throw new Error('pod watch ended before the learner caught up');
        const caughtUp = { appliedIndex: r.learnerApplied, leaderIndex: r.leaderApplied };
        if (!proveLink) return { ...caughtUp, tookMs: Date.now() - started };
        const link = await onEtcd(access, (c) =>
          awaitLearnerLink(
            c,
            {
              member: { memberId: r.memberId, name: member },
              peerLinkFrom: (voter) => acrossTheLink(spec, voter.name, member),
            },
            rc,
          ),
        );
        return { ...caughtUp, tookMs: Date.now() - started, peerLink: link };
      } finally {
        watchdog.abort();
        podWatch.catch(() => undefined);
      }
    },
    async promote(input) {
      const { spec, member, requiredFaultTolerance } = input;
      return onEtcd(await accessFor(input), async (c, rc) => {
        const r = await promoteLearner(
          c,
          {
            member: { name: member },
            requiredFaultTolerance,
            peerLinkFrom: (voter) => acrossTheLink(spec, voter.name, member),
          },
          rc,
        );
        return membership(input, c, member, r.member.id, r.alreadyVoter, r.verdict, r);
      });
    },
    async moveLeader(input) {
      const { to } = input;
      const access = await accessFor(input);
      const moved = await onEtcd(access, async (c, rc) => {
        const { members } = await listMembers(c);
        const r = await moveLeader(c, { target: { name: to } }, rc);
        const from = members.find((m) => m.id === r.previousLeaderId)?.name ?? null;
        return { from, to: r.leaderName, alreadyLeader: !r.changed };
      });
      // On the clients the move just used (kept by the pool), as `observe` would read it.
      return input.withEvidence ? { ...moved, evidence: await evidenceOf(input, true, access) } : moved;
    },
    async verifyConsistency(input) {
      const { spec, members } = input;
      const access = await accessFor(input);
      // Both only read: the observation for the evidence is taken while the members hash.
      const [hash, obs] = await Promise.all([
        hashOf(spec, access, new Set(members)),
        onEtcd(access, observeCluster),
      ]);
      if (!hash.agree)
        throw new ConsistencyMismatch(`hashKV disagrees at revision ${hash.revision}: ${hash.summary}`);
      return toEvidence(spec, obs, hash, sidesServedBy(spec, deps.cluster));
    },
    async hashKvOnSide(input) {
      const { spec, side, members, revision } = input;
      if (!sidesServedBy(spec, deps.cluster).includes(side))
        throw new WrongCluster(
          `hashKvOnSide(${side}) reached the worker of cluster "${deps.cluster}": each side's members are hashed by that side's worker`,
        );
      const own = members.filter((m) => sideOfMember(spec, m) === side);
      const access = await accessFor(input, [side]);
      const endpoints = pick(access.endpoints, new Set(own));
      if (Object.keys(endpoints).length === 0)
        throw new EtcdUnavailable(`no ${side} member of ${own.join(', ') || '(none)'} has a pod IP yet`);
      return onEtcd({ ...access, endpoints }, (c, rc) =>
        sideHashKv(
          c,
          { side, members: own, ...(revision === undefined ? {} : { revision }) },
          { callTimeoutMs: stepDeadlineMs(spec) },
          rc,
        ),
      );
    },
    async removeMember(input) {
      const { spec, member, memberId, requiredFaultTolerance } = input;
      // An old member that leads again (an election) hands the leadership to a new one first.
      return onEtcd(await accessFor(input), async (c, rc) => {
        const r = await removeMemberNotLeading(
          c,
          {
            member: memberId ? { memberId, name: member } : { name: member },
            requiredFaultTolerance,
            preferAsLeader: (m) => sideOfMember(spec, m.name) === 'target',
          },
          rc,
        );
        return membership(input, c, member, r.memberId, r.alreadyRemoved, r.verdict, r, member);
      });
    },
    async scaleSource({ spec, replicas }) {
      const r = await scaleSource(env(), { spec, replicas });
      return { replicas: r.replicas };
    },
    async finalizeTarget({ spec, initialCluster }) {
      await finalizeTarget(env(), { spec, initialCluster });
    },
    async cleanupSourceStatefulSet({ spec }) {
      await deleteSourceStatefulSet(env(), { spec });
    },
    async cleanupSourcePvcs({ spec, members }) {
      const r = await deleteSourcePvcs(env(), { spec, members });
      return { deleted: r.deleted };
    },
  };
  return withApplicationFailures(activities);
}

function pick(endpoints: Record<string, string>, names: Set<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(endpoints).filter(([n]) => names.has(n)));
}
