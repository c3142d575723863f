/**
 * A reverse migration (the way back: the new StatefulSet as the source) started before the
 * migration that made that StatefulSet finished: that migration's old members still vote. It is
 * recognised by what the forward migration recorded on the StatefulSet it created: made by
 * etcd-stretch, its spec, the members it started from. The reverse finishes the forward first (a
 * new run of it that resumes, workflows/finish-forward.ts), so its own preflight checks and plans
 * the cluster as it will be then: without those members.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { ClusterObservation } from '../etcd/types.js';
import { isManagedByUs, MIGRATION_SPEC_ANNOTATION, SOURCE_MEMBERS_ANNOTATION } from '../kubernetes/labels.js';
import type { UnfinishedForward } from '../../core/activity-contract.js';
import { podOrdinal } from '../../core/planner/members.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { formatSpecErrors, parseMigrationSpec } from '../../core/spec/validate.js';
import { migrationWorkflowId } from '../../core/workflow-id.js';

export interface UnfinishedForwardFound {
  forward: UnfinishedForward;
  /** The observation without the forward's old members, as it will be once that is finished. */
  observation: ClusterObservation;
  warning: string;
}

/**
 * The forward migration whose old members vote besides this run's source members, or undefined
 * when there is none (or the extra members are not all of it: the usual refusals name them).
 * Throws when the StatefulSet records a spec that no longer parses.
 */
export function unfinishedForwardOf(
  spec: MigrationSpec,
  sourceStatefulSet: V1StatefulSet,
  obs: ClusterObservation,
): UnfinishedForwardFound | undefined {
  const extra = obs.members.filter(
    (m) => !m.name || podOrdinal(spec.source.statefulSet, m.name) === undefined,
  );
  if (extra.length === 0 || !isManagedByUs(sourceStatefulSet.metadata)) return undefined;
  const annotations = sourceStatefulSet.metadata?.annotations ?? {};
  const rawSpec = annotations[MIGRATION_SPEC_ANNOTATION];
  const rawStartedFrom = annotations[SOURCE_MEMBERS_ANNOTATION];
  if (!rawSpec || !rawStartedFrom) return undefined;
  const parsed = parseMigrationSpec(JSON.parse(rawSpec));
  if (!parsed.ok) {
    throw new Error(
      `StatefulSet ${spec.source.statefulSet} records the spec of the migration that made it (annotation ${MIGRATION_SPEC_ANNOTATION}), which does not parse: ${formatSpecErrors(parsed.errors)}`,
    );
  }
  const forward = parsed.spec;
  const madeThis =
    forward.target.context === spec.source.context &&
    forward.target.namespace === spec.source.namespace &&
    forward.target.statefulSet === spec.source.statefulSet;
  const startedFrom = new Set((JSON.parse(rawStartedFrom) as { name: string }[]).map((m) => m.name));
  const itsOldVoters = extra.every(
    (m) =>
      !m.isLearner && startedFrom.has(m.name) && podOrdinal(forward.source.statefulSet, m.name) !== undefined,
  );
  if (!madeThis || !itsOldVoters) return undefined;
  const members = extra.map((m) => m.name).sort();
  const workflowId = migrationWorkflowId(forward);
  const leaving = new Set(extra.map((m) => m.id));
  return {
    forward: { spec: forward, workflowId, members },
    observation: {
      ...obs,
      members: obs.members.filter((m) => !leaving.has(m.id)),
      unobservedMemberIds: obs.unobservedMemberIds.filter((id) => !leaving.has(id)),
    },
    warning: `the migration that made ${spec.source.statefulSet} (${where(forward.source)} -> ${where(forward.target)}) has not finished: its old members ${members.join(', ')} still vote. This run finishes it first, as a new run of ${workflowId} that resumes it (retire and cleanup, with its own gates), then moves the etcd as planned here`,
  };
}

function where(end: MigrationSpec['source']): string {
  return `${end.context}/${end.namespace}/${end.statefulSet}`;
}
