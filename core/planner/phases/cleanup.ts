/**
 * Phase `cleanup`: across two clusters the DNS entries and LoadBalancer Services the migration
 * added (what spec.cleanup asks for), then the old StatefulSet and Service, and the old PVCs
 * only with cleanup.deletePVCs.
 */
import { dnsEntries } from '../members.js';
import type { PlanBuilder } from '../plan-builder.js';
import { names, type PlanContext } from './context.js';

export function planCleanup(b: PlanBuilder, ctx: PlanContext): void {
  const { spec, oldMembers } = ctx;
  const { source } = spec;
  // What was added between the clusters goes in both at the same time. The StatefulSet comes
  // after it: a resumed run takes a missing StatefulSet as the sign that everything before it was
  // done (core/planner/resume.ts).
  if (!ctx.oneNamespace) b.together('cleanup/between-clusters', () => cleanupCrossCluster(b, ctx));
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
}

/** What phases `expose` and `dns` added between the clusters. */
function cleanupCrossCluster(b: PlanBuilder, { spec, oldMembers, newMembers }: PlanContext): void {
  const { source, target } = spec;
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
