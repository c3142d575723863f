/** The plan's warnings: what an operator should know before approving it. Pure. */
import { parseMemberUrl, peerScheme } from './members.js';
import type { PlanContext } from './phases/context.js';
import { faultTolerance } from './quorum.js';

export function planWarnings({ spec, oldMembers, n, m, oneNamespace }: PlanContext): string[] {
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
