/**
 * The pure planner: spec + observed membership -> the exact ordered steps of a migration.
 * No I/O; shared by the workflow (it executes the steps) and the CLI (`plan`, the dry run).
 *
 * ## Strategy (and why)
 *
 * Notation: n old voters (the observed source members), m new members (target replicas, 1..7),
 * a state (a, b) = a old voters + b new voters; learners do not vote. Safety rules (design.md):
 * one membership change at a time, new members join as learners and are promoted only after
 * catching up, at most one learner at a time, never remove the leader (leadership moves to a
 * new member in phase `leader`), old members leave highest ordinal first and before their pod
 * stops, fault tolerance never below the source's (or, when the operator asks for a smaller
 * target, never below min(source's, target's): the final cluster cannot tolerate more).
 *
 * Every voter change moves a - b by exactly one, from +n to -m, so EVERY path passes through
 * exactly one state with a = b, where neither side has a majority if the link between the
 * clusters breaks. The count cannot be improved; what a plan chooses is where that state lies
 * and how long it lasts. A second learner cannot be waiting (one learner at a time), so if the
 * even state is left by a promotion it has to last through a whole join (add, pod start,
 * snapshot catch-up); if it is left by a removal it lasts one membership change. Removals only
 * happen after the switch-clients gate (before it, an abort must restore the source exactly, and
 * the clients still use the old members). Hence:
 *
 * - join: promote new members while the old side keeps a strict majority (b < n). When
 *   m >= n the member whose promotion would even the sides, `<target>-(n-1)`, joins and
 *   catches up but stays a learner: it costs no quorum and no fault tolerance.
 * - leader: move leadership to `<target>-0` (a new voter); the old side still has the majority.
 * - gate switch-clients: the clients move to the new voters; the old side keeps the majority.
 * - retire, m >= n: re-check the learner's catch-up, promote it (the even state (n, n)),
 *   immediately remove the highest old member (new majority), then join the remaining new
 *   members (m > n) while the old ones are still there, then remove the rest, highest first.
 * - retire, m < n: all m new members are voters already; remove old members highest first; the
 *   removal that reaches (m, m) is followed directly by the next removal (its pod stops together
 *   with the next one's). Keeping every new member a voter until then keeps the fault tolerance
 *   at the source's level for as long as possible when the target is smaller.
 * So for n >= 2 exactly one step leaves the cluster without a majority on either side, and it
 * is directly followed by a removal.
 *
 * A single-member source (n = 1, fault tolerance 0) is special: the leader can only move to a
 * new member once that member votes, and (1, 1) is the even state, so the leader phase itself
 * needs it. With m = 1 the even state therefore lasts from the promotion through the
 * switch-clients gate (clients need a voter on the new side to switch to). With m >= 2 the
 * join phase goes straight on to the second new member, so the even state lasts one join
 * (bounded) instead of an operator wait, and the gate sees a new-side majority.
 *
 * The brute-force search in test/unit/planner.test.ts checks for every n, m in 1..7 that no
 * sequence of membership steps does better (fewer operator waits, then fewer slow steps, then
 * fewer steps in an even state) under the same rules.
 *
 * `--initial-cluster` for each new member lists every member at that moment (old voters, new
 * voters, itself), `name=peerURL` for every peer URL, comma-separated; old members' URLs come
 * from the observed member list, new ones are `http(s)://<pod>.<headless-service>:2380`.
 */
import { formatDuration, parseDuration } from '../spec/duration.js';
import { MAX_TARGET_REPLICAS, type DnsStrategy, type MigrationSpec } from '../spec/schema.js';
import {
  PlanError,
  initialCluster,
  memberHostnames,
  newMembersFor,
  oldMembersFrom,
  targetClientURL,
  parseMemberUrl,
  peerScheme,
} from './members.js';
import {
  GATE_BEFORE_PHASE,
  type DnsEntry,
  type MembershipState,
  type MigrationPlan,
  type PhaseName,
  type PlanAction,
  type PlanInput,
  type PlanMember,
  type PlanStep,
} from './plan-types.js';
import { faultTolerance, majoritySideOnPartition, quorumSize } from './quorum.js';

export { PlanError, assumedSourceMembers } from './members.js';

interface Membership {
  oldVoters: PlanMember[];
  newVoters: PlanMember[];
  newLearners: PlanMember[];
}

function byOrdinal(a: PlanMember, b: PlanMember): number {
  return a.ordinal - b.ordinal;
}

class PlanBuilder {
  readonly steps: PlanStep[] = [];
  private readonly membership: Membership;

  constructor(
    private readonly spec: MigrationSpec,
    oldMembers: PlanMember[],
    private readonly newMembers: PlanMember[],
  ) {
    this.membership = { oldVoters: [...oldMembers], newVoters: [], newLearners: [] };
  }

  /** Every member right now, in `--initial-cluster` order: old voters, then new members by ordinal. */
  currentMembers(): PlanMember[] {
    const { oldVoters, newVoters, newLearners } = this.membership;
    return [...oldVoters, ...[...newVoters, ...newLearners].sort(byOrdinal)];
  }

  voters(): PlanMember[] {
    return [...this.membership.oldVoters, ...this.membership.newVoters];
  }

  newVoters(): PlanMember[] {
    return [...this.membership.newVoters];
  }

  add(phase: PhaseName, subject: string | undefined, action: PlanAction, title: string): void {
    const previous = this.steps[this.steps.length - 1];
    if (previous !== undefined && previous.phase !== phase && phase !== 'preflight') this.gate(phase);
    this.apply(action);
    const id = [phase, subject, action.kind].filter((part) => part !== undefined).join('/');
    this.steps.push({ ...action, id, phase, title, after: this.snapshot() });
  }

  private gate(phase: Exclude<PhaseName, 'preflight'>): void {
    const gate = GATE_BEFORE_PHASE[phase];
    const approval = this.spec.gates[gate];
    let action: Extract<PlanAction, { kind: 'gate' }> = { kind: 'gate', gate, approval };
    let title = `gate ${gate} (${approval})`;
    if (gate === 'switch-clients') {
      const endpoints = this.membership.newVoters.map((m) => targetClientURL(this.spec, m.name));
      action = { ...action, clientEndpoints: endpoints };
      title += `: point clients at ${endpoints.join(', ')}`;
      const voters = new Set(this.membership.newVoters.map((m) => m.name));
      const later = this.newMembers.filter((m) => !voters.has(m.name));
      if (later.length > 0) {
        const verb = later.length === 1 ? 'becomes a voter' : 'become voters';
        title += ` (${later.map((m) => m.name).join(', ')} ${verb} during retire)`;
      }
    }
    this.steps.push({ ...action, id: `gate/${gate}`, phase, title, after: this.snapshot() });
  }

  private apply(action: PlanAction): void {
    const m = this.membership;
    switch (action.kind) {
      case 'add-learner': {
        const ordinal = Number(action.member.slice(action.member.lastIndexOf('-') + 1));
        m.newLearners.push({ name: action.member, ordinal, peerURLs: [...action.peerURLs] });
        break;
      }
      case 'promote': {
        const index = m.newLearners.findIndex((l) => l.name === action.member);
        const [member] = m.newLearners.splice(index, 1);
        if (index === -1 || member === undefined)
          throw new Error(`planner bug: ${action.member} is not a learner`);
        m.newVoters.push(member);
        m.newVoters.sort(byOrdinal);
        break;
      }
      case 'remove-member': {
        const index = m.oldVoters.findIndex((v) => v.name === action.member);
        if (index === -1) throw new Error(`planner bug: ${action.member} is not an old voter`);
        m.oldVoters.splice(index, 1);
        break;
      }
      default:
        break;
    }
  }

  private snapshot(): MembershipState {
    const { oldVoters, newVoters, newLearners } = this.membership;
    const voters = oldVoters.length + newVoters.length;
    return {
      voters: { old: oldVoters.map((v) => v.name), new: newVoters.map((v) => v.name) },
      learners: { old: [], new: newLearners.map((l) => l.name) },
      quorum: quorumSize(voters),
      faultTolerance: faultTolerance(voters),
      majoritySideOnPartition: majoritySideOnPartition(oldVoters.length, newVoters.length),
    };
  }
}

/** `issue-certificates` when the spec issues the new members' certificates (after their load balancers exist). */
function issueCertificates(b: PlanBuilder, spec: MigrationSpec, newMembers: PlanMember[]): void {
  const secrets = (['peer', 'client'] as const).flatMap((kind) => {
    const from = spec.tls[kind]?.issueFrom;
    return from ? [{ kind, name: `${spec.target.statefulSet}-${kind}-tls`, caSecret: from.caSecret }] : [];
  });
  if (secrets.length === 0) return;
  b.add(
    'expose',
    'target',
    { kind: 'issue-certificates', members: newMembers.map((m) => m.name), secrets },
    `issue ${secrets.map((s) => s.kind).join(' and ')} certificates for ${names(newMembers)} from ${[...new Set(secrets.map((s) => s.caSecret))].join(', ')} into ${secrets.map((s) => s.name).join(', ')}`,
  );
}

function dnsEntries(members: readonly PlanMember[], service: string): DnsEntry[] {
  return members.map((member) => ({ member: member.name, hostnames: memberHostnames(member, service) }));
}

function strategyLabel(strategy: DnsStrategy): string {
  switch (strategy.strategy) {
    case 'coredns-hosts':
      return `CoreDNS hosts block in ${strategy.namespace}/${strategy.configMap}`;
    case 'host-aliases':
      return 'hostAliases of the new StatefulSet';
    case 'patch':
      return `JSON patch of ${strategy.object.kind} ${strategy.object.namespace ? `${strategy.object.namespace}/` : ''}${strategy.object.name}`;
  }
}

function names(members: readonly PlanMember[]): string {
  return members.map((m) => m.name).join(', ');
}

export function planMigration(input: PlanInput): MigrationPlan {
  const { spec } = input;
  const oldMembers = oldMembersFrom(spec, input.observed.members);
  const n = oldMembers.length;
  const m = spec.target.replicas ?? n;
  if (!Number.isInteger(m) || m < 1 || m > MAX_TARGET_REPLICAS) {
    throw new PlanError(
      spec.target.replicas === undefined
        ? `the source has ${n} members; target.replicas defaults to that but must be 1..${MAX_TARGET_REPLICAS}: set it`
        : `target.replicas must be 1..${MAX_TARGET_REPLICAS}, got ${m}`,
    );
  }
  const newMembers = newMembersFor(spec, m);
  const newMember = (ordinal: number): PlanMember => {
    const member = newMembers[ordinal];
    if (member === undefined) throw new Error(`planner bug: no new member ${ordinal}`);
    return member;
  };
  const oldMember = (ordinal: number): PlanMember => {
    const member = oldMembers[ordinal];
    if (member === undefined) throw new Error(`planner bug: no old member ${ordinal}`);
    return member;
  };
  const { source, target } = spec;
  const oneNamespace = source.context === target.context && source.namespace === target.namespace;
  const b = new PlanBuilder(spec, oldMembers, newMembers);
  const catchUpTimeout = spec.deadlines.catchUp;

  // preflight: nothing changes.
  b.add(
    'preflight',
    undefined,
    {
      kind: 'preflight-checks',
      checks: [
        'every voter is healthy and all voters report the same member list',
        `members are exactly ${names(oldMembers)}, all voters, no learner`,
        'every member runs etcd >= 3.4 (learners)',
        'hashKV agrees on every member at one revision',
        `StatefulSet ${target.statefulSet} and Service ${target.service} do not exist yet in ${target.context}/${target.namespace}`,
      ],
    },
    `preflight: health, member list, versions, hashKV; ${target.statefulSet} absent (nothing changes)`,
  );

  // shrink
  if (spec.shrink.enabled) {
    b.add(
      'shrink',
      undefined,
      { kind: 'compact', keepRevisions: spec.shrink.keepRevisions },
      `compact to the current revision - ${spec.shrink.keepRevisions}`,
    );
    b.add(
      'shrink',
      undefined,
      { kind: 'rolling-defragment', members: oldMembers.map((o) => o.name) },
      n === 1
        ? `defragment ${names(oldMembers)} (the only member: it blocks while defragmenting)`
        : `defragment ${names(oldMembers)} one at a time, followers first, the leader last after moving leadership`,
    );
  }

  // expose
  b.add(
    'expose',
    'target',
    {
      kind: 'create-headless-service',
      cluster: 'target',
      service: target.service,
      statefulSet: target.statefulSet,
    },
    `create headless Service ${target.service} in ${target.context}/${target.namespace}`,
  );
  if (!oneNamespace) {
    for (const [cluster, members] of [
      ['source', oldMembers],
      ['target', newMembers],
    ] as const) {
      const side = spec[cluster];
      b.add(
        'expose',
        cluster,
        { kind: 'create-member-services', cluster, members: members.map((x) => x.name) },
        `create a LoadBalancer Service per member in ${side.context}/${side.namespace}: ${names(members)}`,
      );
    }
    for (const [cluster, members] of [
      ['source', oldMembers],
      ['target', newMembers],
    ] as const) {
      b.add(
        'expose',
        cluster,
        {
          kind: 'await-load-balancers',
          cluster,
          members: members.map((x) => x.name),
          timeout: spec.deadlines.loadBalancers,
        },
        `wait for the load-balancer IPs of ${names(members)}`,
      );
    }
  }
  issueCertificates(b, spec, newMembers);
  if (!oneNamespace) {
    // dns
    b.add(
      'dns',
      'source',
      {
        kind: 'configure-dns',
        cluster: 'source',
        strategy: spec.dns.sourceCluster,
        entries: dnsEntries(newMembers, target.service),
      },
      `${source.context}: resolve ${names(newMembers)} to their load balancers (${strategyLabel(spec.dns.sourceCluster)})`,
    );
    b.add(
      'dns',
      'target',
      {
        kind: 'configure-dns',
        cluster: 'target',
        strategy: spec.dns.targetCluster,
        entries: dnsEntries(oldMembers, source.service),
      },
      `${target.context}: resolve ${names(oldMembers)} to their load balancers (${strategyLabel(spec.dns.targetCluster)})`,
    );
  }

  const addLearner = (phase: PhaseName, member: PlanMember): void => {
    b.add(
      phase,
      member.name,
      { kind: 'add-learner', member: member.name, peerURLs: member.peerURLs },
      `add ${member.name} as a learner (${member.peerURLs.join(', ')})`,
    );
    b.add(
      phase,
      member.name,
      {
        kind: 'scale-target',
        member: member.name,
        replicas: member.ordinal + 1,
        initialCluster: initialCluster(b.currentMembers()),
      },
      `start ${member.name}: ${target.statefulSet} to ${member.ordinal + 1} replica${member.ordinal === 0 ? '' : 's'}, initial cluster of ${b.currentMembers().length}`,
    );
    b.add(
      phase,
      member.name,
      { kind: 'await-catch-up', member: member.name, timeout: catchUpTimeout },
      `wait until learner ${member.name} has caught up with the leader`,
    );
  };
  const promote = (phase: PhaseName, member: PlanMember, recheck: boolean): void => {
    if (recheck) {
      b.add(
        phase,
        member.name,
        { kind: 'await-catch-up', member: member.name, timeout: catchUpTimeout },
        `check that learner ${member.name} is still caught up`,
      );
    }
    b.add(phase, member.name, { kind: 'promote', member: member.name }, `promote ${member.name} to voter`);
  };
  const removeOld = (member: PlanMember): void => {
    b.add(
      'retire',
      member.name,
      { kind: 'remove-member', member: member.name, ...(member.id ? { memberId: member.id } : {}) },
      `remove ${member.name} from the cluster`,
    );
  };
  const scaleSource = (replicas: number, stops: PlanMember[]): void => {
    b.add(
      'retire',
      stops[stops.length - 1]?.name,
      { kind: 'scale-source', replicas, stops: stops.map((s) => s.name) },
      `scale ${source.statefulSet} to ${replicas} (stops ${names(stops)}; PVCs kept)`,
    );
  };
  const verify = (phase: PhaseName, when: string): void => {
    const voters = b.voters();
    b.add(
      phase,
      when,
      { kind: 'verify-consistency', members: voters.map((v) => v.name) },
      `hashKV agrees on ${names(voters)}`,
    );
  };

  // join
  if (n === 1) {
    // Single-member source: see the strategy note. With m = 1 the promotion waits for the leader phase.
    for (let j = 0; j < m; j++) {
      addLearner('join', newMember(j));
      if (m > 1) promote('join', newMember(j), false);
    }
  } else {
    const joinVoters = m < n ? m : n - 1;
    for (let j = 0; j < joinVoters; j++) {
      addLearner('join', newMember(j));
      promote('join', newMember(j), false);
    }
    if (m >= n) addLearner('join', newMember(n - 1)); // stays a learner until retire
  }
  verify('join', 'end');

  // leader
  if (n === 1 && m === 1) promote('leader', newMember(0), true);
  const leader = newMember(0);
  b.add('leader', undefined, { kind: 'move-leader', to: leader.name }, `move leadership to ${leader.name}`);

  // retire (opened by the switch-clients gate)
  verify('retire', 'start');
  if (n === 1) {
    removeOld(oldMember(0));
    scaleSource(0, [oldMember(0)]);
  } else if (m >= n) {
    promote('retire', newMember(n - 1), true); // even state (n, n) ...
    removeOld(oldMember(n - 1)); // ... left at once: new-side majority
    scaleSource(n - 1, [oldMember(n - 1)]);
    for (let j = n; j < m; j++) {
      addLearner('retire', newMember(j));
      promote('retire', newMember(j), false);
    }
    for (let i = n - 2; i >= 0; i--) {
      removeOld(oldMember(i));
      scaleSource(i, [oldMember(i)]);
    }
  } else {
    for (let i = n - 1; i >= 0; i--) {
      removeOld(oldMember(i));
      if (i === m) continue; // even state (m, m): the next removal follows at once
      scaleSource(i, i === m - 1 ? [oldMember(m), oldMember(i)] : [oldMember(i)]);
    }
  }
  verify('retire', 'end');

  // finalize
  b.add(
    'finalize',
    target.statefulSet,
    { kind: 'finalize-target', initialCluster: initialCluster(newMembers) },
    `rewrite ${target.statefulSet}'s --initial-cluster to the new members only (no pod restarts)`,
  );
  const soakMs = parseDuration(spec.soak) ?? 0;
  b.add(
    'finalize',
    undefined,
    { kind: 'soak', duration: spec.soak, ms: soakMs },
    `soak: let the new cluster run alone for ${formatDuration(soakMs)}`,
  );

  // cleanup
  if (!oneNamespace) {
    b.add(
      'cleanup',
      'target',
      {
        kind: 'cleanup-dns',
        cluster: 'target',
        strategy: spec.dns.targetCluster,
        entries: dnsEntries(oldMembers, source.service),
      },
      `${target.context}: remove the DNS entries for ${names(oldMembers)}`,
    );
    if (spec.cleanup.removeSourceClusterDns) {
      b.add(
        'cleanup',
        'source',
        {
          kind: 'cleanup-dns',
          cluster: 'source',
          strategy: spec.dns.sourceCluster,
          entries: dnsEntries(newMembers, target.service),
        },
        `${source.context}: remove the DNS entries for ${names(newMembers)}`,
      );
    }
    b.add(
      'cleanup',
      'source',
      { kind: 'cleanup-member-services', cluster: 'source', members: oldMembers.map((o) => o.name) },
      `delete the LoadBalancer Services of ${names(oldMembers)}`,
    );
    if (spec.cleanup.deleteTargetMemberServices) {
      b.add(
        'cleanup',
        'target',
        { kind: 'cleanup-member-services', cluster: 'target', members: newMembers.map((x) => x.name) },
        `delete the LoadBalancer Services of ${names(newMembers)}`,
      );
    }
  }
  b.add(
    'cleanup',
    'source',
    { kind: 'cleanup-source-statefulset', statefulSet: source.statefulSet, service: source.service },
    `delete StatefulSet ${source.statefulSet} and Service ${source.service} in ${source.context}/${source.namespace}`,
  );
  if (spec.cleanup.deletePVCs) {
    b.add(
      'cleanup',
      'source',
      {
        kind: 'cleanup-source-pvcs',
        statefulSet: source.statefulSet,
        members: oldMembers.map((o) => o.name),
      },
      `delete the PVCs of ${names(oldMembers)} (cleanup.deletePVCs)`,
    );
  }

  const phases: PhaseName[] = [];
  for (const step of b.steps) if (phases[phases.length - 1] !== step.phase) phases.push(step.phase);

  return {
    phases,
    steps: b.steps,
    warnings: planWarnings(spec, oldMembers, n, m, oneNamespace),
    requiredFaultTolerance: Math.min(faultTolerance(n), faultTolerance(m)),
    source: { members: oldMembers, faultTolerance: faultTolerance(n) },
    target: {
      members: newMembers,
      faultTolerance: faultTolerance(m),
      clientURLs: newMembers.map((x) => targetClientURL(spec, x.name)),
    },
  };
}

function planWarnings(
  spec: MigrationSpec,
  oldMembers: readonly PlanMember[],
  n: number,
  m: number,
  oneNamespace: boolean,
): string[] {
  const warnings: string[] = [];
  if (!oneNamespace) {
    for (const side of ['source', 'target'] as const) {
      const lb = spec[side].loadBalancer;
      if (lb.allowAnyone) {
        const ranges = lb.sourceRanges?.length ? lb.sourceRanges.join(', ') : '0.0.0.0/0';
        warnings.push(
          `!!! ${side}.loadBalancer.allowAnyone is set (source ranges ${ranges}): ANYONE who reaches the ${side} load balancers can join the etcd cluster or read and write its data on ports 2380/2379 !!!`,
        );
      }
    }
    if (!spec.tls.peer) {
      warnings.push(
        'peer traffic between the clusters is plain http (no tls.peer): anyone on the path can read it',
      );
    }
  }
  if (!spec.tls.client) warnings.push('client traffic to the new members is plain http (no tls.client)');
  const scheme = peerScheme(spec);
  const oldSchemes = new Set(oldMembers.flatMap((o) => o.peerURLs.map((u) => parseMemberUrl(u)?.scheme)));
  if (oldSchemes.size > 0 && !oldSchemes.has(scheme)) {
    warnings.push(
      `the old members advertise ${[...oldSchemes].join('/')} peer URLs but the new members will use ${scheme} (tls.peer): both sides must accept each other's peer connections`,
    );
  }
  const fn = faultTolerance(n);
  const fm = faultTolerance(m);
  if (fm < fn) {
    warnings.push(
      `target size ${m} tolerates ${fm} failure${fm === 1 ? '' : 's'}, the source (${n} members) tolerates ${fn}: fault tolerance drops during retire`,
    );
  }
  if (m % 2 === 0) {
    warnings.push(`target size ${m} is even: it tolerates no more failures than ${m - 1} members would`);
  }
  if (n === 1 && spec.shrink.enabled) {
    warnings.push(
      'single-member source: defragmenting blocks the only member, so clients wait while it runs',
    );
  }
  if (n === 1 && m === 1) {
    warnings.push(
      'single-member source and target: from the promotion of the new member until the old one is removed (across the switch-clients gate) neither cluster can work alone if the link between them breaks; approve switch-clients promptly',
    );
  } else if (n === 1) {
    warnings.push(
      `single-member source: while ${spec.target.statefulSet}-1 joins, neither cluster can work alone if the link between them breaks`,
    );
  }
  for (const side of ['sourceCluster', 'targetCluster'] as const) {
    const strategy = spec.dns[side];
    const cleaned = side === 'targetCluster' || spec.cleanup.removeSourceClusterDns;
    if (!oneNamespace && cleaned && strategy.strategy === 'patch' && !strategy.cleanupOps) {
      warnings.push(`dns.${side} uses a patch without cleanupOps: cleanup leaves its entries in place`);
    }
  }
  return warnings;
}
