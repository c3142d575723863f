/**
 * Phase `expose`: the new headless Service; across two clusters a LoadBalancer Service per member
 * on both sides and their IPs; then the new members' certificates when the spec issues them.
 */
import { names, type PlanContext } from './context.js';
import type { PlanBuilder } from '../plan-builder.js';

export function planExpose(b: PlanBuilder, ctx: PlanContext): void {
  const { spec, oldMembers, newMembers, oneNamespace } = ctx;
  const { target } = spec;
  // The objects of each cluster are independent: both clusters' Services are created at the same
  // time, then both clusters' load balancers awaited at the same time.
  b.together('expose/services', () => {
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
    if (oneNamespace) return;
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
  });
  if (!oneNamespace) {
    b.together('expose/load-balancers', () => {
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
    });
  }
  issueCertificates(b, ctx);
}

/** `issue-certificates` when the spec issues the new members' certificates (after their load balancers exist). */
function issueCertificates(b: PlanBuilder, { spec, newMembers }: PlanContext): void {
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
