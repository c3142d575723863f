/**
 * Recording fake activities for workflow-logic tests (Temporal's recommended way): they keep a
 * tiny model of the cluster so results are consistent, record every call in order, and can be
 * told to fail. Never used outside test/workflow.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  UnfinishedForward,
  Evidence,
  MembershipResult,
  MigrationActivities,
  PreflightInput,
  PreflightReport,
  Side,
  SpecInput,
} from '../../core/activity-contract.js';
import { withPlan } from '../../activities/migration/plan-once.js';
import { planResume } from '../../core/planner/resume.js';
import type { MigrationSpec } from '../../core/spec/schema.js';

export interface Link {
  name: keyof MigrationActivities;
  stepId?: string;
  undoes?: string;
}

export interface Call {
  name: keyof MigrationActivities;
  detail: string;
}

/** The timeouts an activity call was scheduled with, as the activity sees them. */
export interface Timeouts {
  name: keyof MigrationActivities;
  startToCloseTimeoutMs: number;
  heartbeatTimeoutMs?: number;
}

export interface FakeOptions {
  /** Source members, e.g. 3 -> etcd-0..etcd-2. */
  sourceSize?: number;
  /** Make an activity fail: return an error to throw for this call, or undefined to run it. */
  failWhen?: (call: Call, attempt: number) => Error | undefined;
  /** Called after each call is recorded (e.g. to send a signal at a precise point). */
  onCall?: (call: Call) => void;
  /**
   * Holds a call after it is recorded, before its effect lands in the model, until the returned
   * promise settles (a slow activity that does not heartbeat); undefined: no hold.
   */
  holdWhen?: (call: Call) => Promise<void> | undefined;
  /**
   * The scaleTarget of this member lands, then heartbeats until it is cancelled and acknowledges
   * the cancellation (as the real one does while it waits for the pod).
   */
  scaleTargetWaitsForCancel?: string;
  /** The first moveLeader moves the leadership, then its answer is lost (a retryable failure). */
  loseFirstMoveLeaderAnswer?: boolean;
  /** moveLeader ignores `withEvidence`, as a worker from before it did. */
  moveLeaderWithoutEvidence?: boolean;
  refusals?: string[];
  /** Leave the plan out of the preflight report, as workers before the recorded plan did. */
  planInWorkflow?: boolean;
  /** hashKvOnSide reads a different hash on this member (its data diverged). */
  divergentMember?: string;
  /** The first (not resumed) preflight reports this unfinished forward migration. */
  unfinishedForward?: UnfinishedForward;
  /** The refusals of the n-th (not resumed) preflight, 1-based; default `refusals`. */
  preflightRefusals?: (n: number) => string[] | undefined;
}

interface Member {
  name: string;
  id: string;
  isLearner: boolean;
  side: Side;
}

/** The source objects a fake per-cluster preflight hands on. */
export const FAKE_MANIFESTS = { statefulSet: { kind: 'StatefulSet', metadata: { name: 'etcd' } } };

export function createFakeActivities(opts: FakeOptions = {}) {
  const calls: Call[] = [];
  const attempts = new Map<string, number>();
  const sourceSize = opts.sourceSize ?? 3;
  let nextId = 1000;
  const members: Member[] = Array.from({ length: sourceSize }, (_, i) => ({
    name: `etcd-${i}`,
    id: String(100 + i),
    isLearner: false,
    side: 'source' as const,
  }));
  let leader = 'etcd-0';
  const world = {
    members,
    get leader() {
      return leader;
    },
    sourceReplicas: sourceSize,
    targetReplicas: 0,
    targetExists: false,
    headless: new Set<Side>(),
    memberServices: { source: new Set<string>(), target: new Set<string>() },
    dns: { source: new Set<string>(), target: new Set<string>() },
  };

  const evidence = (): Evidence => ({
    at: new Date().toISOString(),
    members: members.map((m) => ({ name: m.name, id: m.id, isLearner: m.isLearner, side: m.side })),
    leader,
    health: Object.fromEntries(members.map((m) => [m.name, true])),
    hashKv: {
      revision: 42,
      agree: true,
      hashes: Object.fromEntries(members.filter((m) => !m.isLearner).map((m) => [m.name, '7'])),
    },
    revision: 42,
  });

  async function record(name: keyof MigrationActivities, detail: string): Promise<void> {
    await Promise.resolve();
    const call = { name, detail };
    const key = `${name} ${detail}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const err = opts.failWhen?.(call, attempt);
    if (err) throw err;
    calls.push(call);
    opts.onCall?.(call);
    await opts.holdWhen?.(call);
  }

  const membership = (name: string, alreadyDone: boolean): MembershipResult => ({
    member: name,
    memberId: members.find((m) => m.name === name)?.id ?? '0',
    alreadyDone,
    evidence: evidence(),
  });

  /** What the resume preflight reads from the model: members by peer URL, both StatefulSets. */
  const resumeReport = (spec: MigrationSpec): PreflightReport => {
    const peer = (m: Member) => `http://${m.name}.${spec[m.side].service}:2380`;
    const observed = members.map((m) => ({
      name: m.name,
      id: m.id,
      isLearner: m.isLearner,
      peerURLs: [peer(m)],
    }));
    const startedFrom = Array.from({ length: sourceSize }, (_, i) => ({
      name: `etcd-${i}`,
      peerURLs: [`http://etcd-${i}.${spec.source.service}:2380`],
      isLearner: false,
    }));
    const report = {
      refusals: [],
      warnings: [],
      observed: { members: observed },
      sourceReplicas: world.sourceReplicas,
    };
    try {
      const { plan } = planResume(spec, {
        members: observed,
        startedFrom,
        sourceReplicas: world.sourceReplicas,
        targetReplicas: world.targetExists ? world.targetReplicas : null,
      });
      return { ...report, evidence: evidence(), plan };
    } catch (err) {
      return { ...report, planError: err instanceof Error ? err.message : String(err) };
    }
  };

  let answerLost = false;
  let forwardFinished = false;
  let preflights = 0;
  const activities: MigrationActivities = {
    async preflight({ spec, part, sourceReport, resume }: PreflightInput): Promise<PreflightReport> {
      await record('preflight', part ? `${spec.source.statefulSet} ${part}` : spec.source.statefulSet);
      if (resume) {
        // The way back's child run: the forward migration is finished from here on.
        forwardFinished = true;
        return resumeReport(spec);
      }
      // Plans the way the real preflight activity does (opts.planInWorkflow: as before that).
      preflights++;
      const report: PreflightReport = {
        refusals: opts.preflightRefusals?.(preflights) ?? opts.refusals ?? [],
        warnings: [],
        observed: {
          members: members.map((m) => ({
            name: m.name,
            id: m.id,
            isLearner: m.isLearner,
            peerURLs: [`http://${m.name}.${spec.source.service}:2380`],
          })),
        },
        sourceReplicas: world.sourceReplicas,
        evidence: evidence(),
      };
      if (opts.unfinishedForward && !forwardFinished) {
        return { ...withPlan(spec, report), unfinishedForward: opts.unfinishedForward };
      }
      // Per-cluster mode: the source part hands the source objects on, the target part plans.
      if (part === 'source') return { ...report, sourceManifests: FAKE_MANIFESTS };
      if (part === 'target')
        return { ...withPlan(spec, report), sourceManifests: sourceReport?.sourceManifests };
      return opts.planInWorkflow ? report : withPlan(spec, report);
    },
    async observe() {
      await record('observe', '');
      return evidence();
    },
    async compact({ keepRevisions }) {
      await record('compact', String(keepRevisions));
      return { revision: 42, compactedTo: Math.max(0, 42 - keepRevisions) };
    },
    async rollingDefragment({ members: names }) {
      await record('rollingDefragment', names.join(','));
      return { order: names, dbSizeBefore: 1000, dbSizeAfter: 100 };
    },
    async ensureHeadlessService({ side }) {
      await record('ensureHeadlessService', side);
      const created = !world.headless.has(side);
      world.headless.add(side);
      return { created };
    },
    async deleteHeadlessService({ side }) {
      await record('deleteHeadlessService', side);
      world.headless.delete(side);
    },
    async ensureMemberServices({ side, members: names }) {
      await record('ensureMemberServices', `${side} ${names.join(',')}`);
      const created = names.filter((n) => !world.memberServices[side].has(n));
      for (const n of names) world.memberServices[side].add(n);
      return { created };
    },
    async deleteMemberServices({ side, members: names }) {
      await record('deleteMemberServices', `${side} ${names.join(',')}`);
      for (const n of names) world.memberServices[side].delete(n);
    },
    async awaitLoadBalancers({ side, members: names }) {
      await record('awaitLoadBalancers', `${side} ${names.join(',')}`);
      return {
        addresses: Object.fromEntries(
          names.map((n, i) => [n, `198.19.${side === 'source' ? 1 : 2}.${10 + i}`]),
        ),
      };
    },
    async issueCertificates({ members: names, addresses }) {
      await record('issueCertificates', names.map((n) => `${n}@${addresses[n] ?? '-'}`).join(','));
      return {
        secrets: [{ kind: 'peer', secret: 'peer-tls', issued: names, kept: [], notAfter: {} }],
      };
    },
    async deleteIssuedCertificates() {
      await record('deleteIssuedCertificates', '');
      return { deleted: ['peer-tls'] };
    },
    async configureDns({ side, strategy, entries }) {
      await record(
        'configureDns',
        `${side} ${strategy.strategy} ${entries.map((e) => `${e.hostnames[0]}=${e.ip}`).join(',')}`,
      );
      for (const e of entries) for (const h of e.hostnames) world.dns[side].add(h);
      return { entries: entries.length };
    },
    async removeDns({ side, hostnames }) {
      await record('removeDns', `${side} ${hostnames.join(',')}`);
      for (const h of hostnames) world.dns[side].delete(h);
    },
    async awaitDnsResolution({ side, entries }) {
      await record('awaitDnsResolution', `${side} ${entries.map((e) => e.hostnames[0]).join(',')}`);
      // Like the real one, it waits for names configured in that cluster; here they answer at once.
      const missing = entries.flatMap((e) => e.hostnames).filter((h) => !world.dns[side].has(h));
      if (missing.length)
        throw nonRetryable(`${missing.join(', ')} do not resolve in ${side}`, 'DeadlineExceeded');
      return {
        resolved: Object.fromEntries(entries.flatMap((e) => e.hostnames.map((h) => [h, [e.ip]]))),
        tookMs: 5,
      };
    },
    async addLearner({ member }) {
      await record('addLearner', member);
      const existing = members.find((m) => m.name === member);
      if (existing) return membership(member, true);
      members.push({ name: member, id: String(nextId++), isLearner: true, side: 'target' });
      return membership(member, false);
    },
    async removeLearner({ member }) {
      await record('removeLearner', member);
      const at = members.findIndex((m) => m.name === member);
      if (at < 0) return { memberId: null, alreadyDone: true };
      const [removed] = members.splice(at, 1);
      return { memberId: removed!.id, alreadyDone: false };
    },
    async scaleTarget({ member, replicas }) {
      await record('scaleTarget', `${member} ${replicas}`);
      const created = !world.targetExists;
      world.targetExists = true;
      world.targetReplicas = replicas;
      if (opts.scaleTargetWaitsForCancel === member) {
        const activity = Context.current();
        for (;;) {
          activity.heartbeat();
          await activity.sleep(200);
        }
      }
      return { replicas, created };
    },
    async shrinkTarget({ replicas, removedMembers, keepHeadlessService }) {
      const keep = keepHeadlessService ? ' keep-headless-service' : '';
      await record('shrinkTarget', `${replicas} ${removedMembers.join(',')}${keep}`);
      world.targetReplicas = replicas;
      if (replicas === 0) world.targetExists = false;
      if (replicas === 0 && !keepHeadlessService) world.headless.delete('target');
    },
    async awaitCatchUp({ member }) {
      await record('awaitCatchUp', member);
      return { appliedIndex: 100, leaderIndex: 100, tookMs: 5 };
    },
    async promote({ member }) {
      await record('promote', member);
      const m = members.find((x) => x.name === member)!;
      const already = !m.isLearner;
      m.isLearner = false;
      return membership(member, already);
    },
    async moveLeader({ to, withEvidence }) {
      await record('moveLeader', to);
      const from = leader;
      leader = to;
      if (opts.loseFirstMoveLeaderAnswer && !answerLost) {
        answerLost = true;
        throw retryable(`the answer of move-leader to ${to} was lost`);
      }
      const withIt = withEvidence && !opts.moveLeaderWithoutEvidence;
      return { from, to, alreadyLeader: from === to, ...(withIt ? { evidence: evidence() } : {}) };
    },
    async verifyConsistency({ members: names }) {
      await record('verifyConsistency', names.join(','));
      return evidence();
    },
    async hashKvOnSide({ side, members: names, revision }) {
      await record(
        'hashKvOnSide',
        `${side} ${names.join(',')}${revision === undefined ? '' : ` @${revision}`}`,
      );
      const voters = names.filter((n) =>
        members.some((m) => m.name === n && m.side === side && !m.isLearner),
      );
      const unknown = names.filter((n) => !members.some((m) => m.name === n && m.side === side));
      return {
        side,
        // Every call moves the model's revision on: the second side must be asked for the first's.
        revision: revision ?? 40 + calls.length,
        hashes: Object.fromEntries(voters.map((n) => [n, n === opts.divergentMember ? '8' : '7'])),
        ...(unknown.length ? { errors: Object.fromEntries(unknown.map((n) => [n, 'no endpoint'])) } : {}),
      };
    },
    async removeMember({ member }) {
      await record('removeMember', member);
      const at = members.findIndex((m) => m.name === member);
      const result = membership(member, at < 0);
      if (at >= 0) members.splice(at, 1);
      return { ...result, evidence: evidence() };
    },
    async scaleSource({ replicas }) {
      await record('scaleSource', String(replicas));
      // The real activity's rules: one pod at a time, and only pods whose member has left.
      if (replicas < world.sourceReplicas - 1)
        throw nonRetryable(
          `${world.sourceReplicas} replicas; old members stop one at a time (asked for ${replicas})`,
          'PreconditionFailed',
        );
      const stillMember = members.find(
        (m) => m.side === 'source' && Number(m.name.split('-').pop()) >= replicas,
      );
      if (stillMember) throw nonRetryable(`${stillMember.name} is still a member`, 'PreconditionFailed');
      world.sourceReplicas = replicas;
      return { replicas };
    },
    async finalizeTarget({ initialCluster }) {
      await record('finalizeTarget', initialCluster);
    },
    async cleanupSourceStatefulSet() {
      await record('cleanupSourceStatefulSet', '');
    },
    async cleanupSourcePvcs({ members: names }) {
      await record('cleanupSourcePvcs', names.join(','));
      return { deleted: names.map((n) => `data-${n}`) };
    },
  };
  // What each call said it runs (stepId) or undoes (undoes), for the undo-pairing tests.
  const links: Link[] = [];
  const timeouts: Timeouts[] = [];
  const linked = Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      (input: SpecInput) => {
        links.push({ name: name as keyof MigrationActivities, stepId: input.stepId, undoes: input.undoes });
        const { startToCloseTimeoutMs, heartbeatTimeoutMs } = Context.current().info;
        timeouts.push({ name: name as keyof MigrationActivities, startToCloseTimeoutMs, heartbeatTimeoutMs });
        return (fn as (i: SpecInput) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as MigrationActivities;
  return { activities: linked, calls, world, links, timeouts };
}

export function retryable(message: string): Error {
  return ApplicationFailure.retryable(message, 'EtcdUnavailable');
}

export function nonRetryable(message: string, type = 'LearnerNotCaughtUp'): Error {
  return ApplicationFailure.nonRetryable(message, type);
}
