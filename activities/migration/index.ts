/**
 * The activities the migration workflow calls (workflows/activity-contract.ts), composed from the
 * etcd and Kubernetes activity groups. Stateless: each call discovers what it needs (pods, member
 * IDs) afresh, so a retried or re-run call sees the world as it is now.
 */
import { createEtcdActivities } from '../etcd/index.js';
import type { SecretResolver } from '../etcd/types.js';
import { createSecretResolver } from '../etcd/secrets.js';
import { resolveRunContext } from '../etcd/run-context.js';
import { FailureType } from '../../core/failure-types.js';
import { withApplicationFailures, defineErrorType } from '../errors.js';
import { kubeClientFactory, sideOf, type KubeEnv } from '../kubernetes/clients.js';
import { podTrouble, readPod } from '../kubernetes/pods.js';
import { createKubernetesSecretResolver } from '../kubernetes/secrets.js';
import { applyDnsEntries, removeDnsEntries } from '../kubernetes/dns.js';
import { deleteMemberCertificates, ensureMemberCertificates } from '../kubernetes/member-certificates.js';
import {
  awaitLoadBalancers,
  deleteMemberServices,
  ensureMemberServices,
} from '../kubernetes/member-services.js';
import { deleteSourcePvcs, deleteSourceStatefulSet, scaleSource } from '../kubernetes/source-statefulset.js';
import {
  deleteHeadlessService,
  deleteTarget,
  ensureHeadlessService,
  finalizeTarget,
  scaleTarget,
  shrinkTarget,
} from '../kubernetes/target-statefulset.js';
import type {
  DnsEntryInput,
  Evidence,
  MembershipResult,
  MigrationActivities,
  Side,
} from '../../core/activity-contract.js';
import type { DnsStrategy, MigrationSpec } from '../../core/spec/schema.js';
import { etcdAccess } from './etcd-access.js';
import { preflight } from './preflight.js';
import { toEvidence } from './evidence.js';

export class ConsistencyMismatch extends defineErrorType(FailureType.ConsistencyMismatch, true) {}
export class LearnerPodNotRunning extends defineErrorType(FailureType.LearnerPodNotRunning, false) {}

export interface MigrationActivityDeps {
  /** Path of the kubeconfig with the contexts the specs name. */
  kubeconfig: string;
  secrets?: SecretResolver;
}

export function createMigrationActivities(deps: MigrationActivityDeps): MigrationActivities {
  const clients = kubeClientFactory(deps.kubeconfig);
  const secrets =
    deps.secrets ??
    createSecretResolver({ kubernetes: createKubernetesSecretResolver({ clients, defaultContext: '' }) });
  const etcd = createEtcdActivities({ secrets });
  const env = (): KubeEnv => ({ clients, rc: resolveRunContext() });

  async function evidenceOf(spec: MigrationSpec, withHash = true): Promise<Evidence> {
    const access = await etcdAccess(env(), spec);
    const obs = await etcd.etcdObserveCluster({ access });
    const voters = new Set(obs.members.filter((m) => !m.isLearner).map((m) => m.name));
    const hash = withHash
      ? await etcd.etcdHashKV({ access: { ...access, endpoints: pick(access.endpoints, voters) } })
      : undefined;
    return toEvidence(spec, obs, hash);
  }

  async function membership(
    spec: MigrationSpec,
    member: string,
    memberId: string | null,
    alreadyDone: boolean,
    guard: MembershipResult['guard'] | null,
  ): Promise<MembershipResult> {
    return {
      member,
      memberId: memberId ?? '',
      alreadyDone,
      guard: guard ?? undefined,
      evidence: await evidenceOf(spec, false),
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
    preflight: ({ spec }) => preflight({ clients, etcd }, spec),

    observe: ({ spec }) => evidenceOf(spec),

    async compact({ spec, keepRevisions }) {
      const r = await etcd.etcdCompact({
        access: await etcdAccess(env(), spec, ['source']),
        keep: keepRevisions,
      });
      return { revision: r.revision, compactedTo: r.compactedTo };
    },

    async rollingDefragment({ spec }) {
      const r = await etcd.etcdRollingDefragment({
        access: await etcdAccess(env(), spec, ['source']),
        disarmAlarms: true,
      });
      return { order: r.order, dbSizeBefore: r.totalBefore.dbSize, dbSizeAfter: r.totalAfter.dbSize };
    },

    async ensureHeadlessService({ spec, side }) {
      const r = await ensureHeadlessService(env(), { spec, side });
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

    async addLearner({ spec, member, peerURLs, requiredFaultTolerance }) {
      const access = await etcdAccess(env(), spec);
      const r = await etcd.etcdAddLearner({ access, name: member, peerURLs, requiredFaultTolerance });
      return membership(spec, member, r.member.id, r.alreadyPresent, r.verdict);
    },
    async removeLearner({ spec, member, memberId, peerURLs, requiredFaultTolerance }) {
      const access = await etcdAccess(env(), spec);
      let id = memberId;
      if (!id) {
        const { members } = await etcd.etcdListMembers({ access });
        const found =
          members.find((m) => m.name === member) ??
          members.find((m) => !m.name && m.peerURLs.some((u) => peerURLs?.includes(u)));
        if (!found) return { memberId: null, alreadyDone: true }; // never added, or already removed
        id = found.id;
      }
      const r = await etcd.etcdRemoveMember({ access, member: { memberId: id }, requiredFaultTolerance });
      return { memberId: id, alreadyDone: r.alreadyRemoved };
    },
    async scaleTarget({ spec, replicas, initialCluster, hostAliases }) {
      const r = await scaleTarget(env(), { spec, replicas, initialCluster, hostAliases });
      return { replicas: r.replicas, created: r.created };
    },
    async shrinkTarget({ spec, replicas, keepHeadlessService }) {
      if (replicas === 0 && !keepHeadlessService) await deleteTarget(env(), { spec });
      else await shrinkTarget(env(), { spec, replicas });
    },
    async awaitCatchUp({ spec, member, memberId, timeoutMs }) {
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
      let access = await etcdAccess(env(), spec);
      while (!access.endpoints[member]) {
        await failIfStuck();
        if (Date.now() - started > timeoutMs)
          throw new LearnerPodNotRunning(`pod ${member} did not get an IP within ${timeoutMs} ms`);
        rc.heartbeat({ member, waitingFor: 'pod IP' });
        await new Promise((r) => setTimeout(r, 1000));
        access = await etcdAccess(env(), spec);
      }
      const watchdog = new AbortController();
      const podWatch = (async () => {
        while (!watchdog.signal.aborted) {
          await failIfStuck();
          await new Promise((r) => setTimeout(r, 2000));
        }
      })();
      try {
        const r = await Promise.race([
          etcd.etcdWaitForLearnerCatchUp({
            access,
            member: memberId ? { memberId, name: member } : { name: member },
            timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)),
          }),
          podWatch.then(() => undefined),
        ]);
        if (!r) throw new Error('pod watch ended before the learner caught up');
        return { appliedIndex: r.learnerApplied, leaderIndex: r.leaderApplied, tookMs: Date.now() - started };
      } finally {
        watchdog.abort();
        podWatch.catch(() => undefined);
      }
    },
    async promote({ spec, member, requiredFaultTolerance }) {
      const access = await etcdAccess(env(), spec);
      const r = await etcd.etcdPromoteLearner({ access, member: { name: member }, requiredFaultTolerance });
      return membership(spec, member, r.member.id, r.alreadyVoter, r.verdict);
    },
    async moveLeader({ spec, to }) {
      const access = await etcdAccess(env(), spec);
      const members = await etcd.etcdListMembers({ access });
      const r = await etcd.etcdMoveLeader({ access, target: { name: to } });
      const from = members.members.find((m) => m.id === r.previousLeaderId)?.name ?? null;
      return { from, to: r.leaderName, alreadyLeader: !r.changed };
    },
    async verifyConsistency({ spec, members }) {
      const access = await etcdAccess(env(), spec);
      const hash = await etcd.etcdHashKV({
        access: { ...access, endpoints: pick(access.endpoints, new Set(members)) },
      });
      if (!hash.agree)
        throw new ConsistencyMismatch(`hashKV disagrees at revision ${hash.revision}: ${hash.summary}`);
      const obs = await etcd.etcdObserveCluster({ access });
      return toEvidence(spec, obs, hash);
    },
    async removeMember({ spec, member, memberId, requiredFaultTolerance }) {
      const access = await etcdAccess(env(), spec);
      const r = await etcd.etcdRemoveMember({
        access,
        member: memberId ? { memberId, name: member } : { name: member },
        requiredFaultTolerance,
      });
      return membership(spec, member, r.memberId, r.alreadyRemoved, r.verdict);
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
