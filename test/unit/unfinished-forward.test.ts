/**
 * The way back's preflight recognises the old members of the migration that made its source,
 * left voting past that migration's client switch (activities/migration/unfinished-forward.ts).
 */
import { describe, expect, it } from 'vitest';
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { ClusterObservation } from '../../activities/etcd/types.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MIGRATION_SPEC_ANNOTATION,
  SOURCE_MEMBERS_ANNOTATION,
} from '../../activities/kubernetes/labels.js';
import { unfinishedForwardOf } from '../../activities/migration/unfinished-forward.js';
import { migrationWorkflowId } from '../../core/workflow-id.js';
import { makeSpec } from './fixtures/migration-spec.js';

const forward = makeSpec();
const back = makeSpec((s) => {
  s.source = { ...s.source, context: 'target', statefulSet: 'etcd-main', service: 'etcd-main' };
  s.target = { ...s.target, context: 'source', statefulSet: 'etcd-back' };
});

function madeByForward(annotations: Record<string, string> = {}): V1StatefulSet {
  return {
    metadata: {
      name: 'etcd-main',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      annotations: {
        [MIGRATION_SPEC_ANNOTATION]: JSON.stringify(forward),
        [SOURCE_MEMBERS_ANNOTATION]: JSON.stringify(
          [0, 1, 2].map((i) => ({ name: `etcd-${i}`, peerURLs: [`http://etcd-${i}.etcd:2380`] })),
        ),
        ...annotations,
      },
    },
  };
}

function observed(names: string[]): ClusterObservation {
  const ids = new Map(names.map((n, i) => [n, String(i + 1)]));
  return {
    observedAt: '2026-12-07T00:00:00Z',
    clusterId: 'c',
    members: names.map((name) => ({
      id: ids.get(name)!,
      name,
      peerURLs: [],
      clientURLs: [],
      isLearner: false,
    })),
    endpoints: [],
    leaderId: '3',
    alarms: [],
    unobservedMemberIds: names.filter((n) => !n.startsWith('etcd-main-')).map((n) => ids.get(n)!),
  };
}

const STRETCHED = ['etcd-0', 'etcd-1', 'etcd-main-0', 'etcd-main-1', 'etcd-main-2'];

describe('a way back started before the forward migration finished', () => {
  it('finds its old members still voting, its spec and workflow ID, and checks the rest without them', () => {
    const found = unfinishedForwardOf(back, madeByForward(), observed(STRETCHED));
    expect(found?.forward.members).toEqual(['etcd-0', 'etcd-1']);
    expect(found?.forward.workflowId).toBe(migrationWorkflowId(forward));
    expect(found?.forward.spec.source.statefulSet).toBe('etcd');
    expect(found?.observation.members.map((m) => m.name)).toEqual([
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
    expect(found?.observation.unobservedMemberIds).toEqual([]);
    expect(found?.warning).toContain('finishes it first');
  });

  it('is nothing when the forward migration finished', () => {
    expect(
      unfinishedForwardOf(back, madeByForward(), observed(['etcd-main-0', 'etcd-main-1', 'etcd-main-2'])),
    ).toBeUndefined();
  });

  it('leaves members it cannot account for to the usual refusals', () => {
    // A member the forward migration did not start from.
    expect(unfinishedForwardOf(back, madeByForward(), observed([...STRETCHED, 'etcd-7']))).toBeUndefined();
    // A StatefulSet without the recorded spec (made before it was recorded) or not made by etcd-stretch.
    expect(
      unfinishedForwardOf(back, madeByForward({ [MIGRATION_SPEC_ANNOTATION]: '' }), observed(STRETCHED)),
    ).toBeUndefined();
    const foreign = madeByForward();
    foreign.metadata!.labels = {};
    expect(unfinishedForwardOf(back, foreign, observed(STRETCHED))).toBeUndefined();
    // A forward migration that made another StatefulSet.
    const other = makeSpec((s) => {
      s.target = { ...s.target, statefulSet: 'etcd-other' };
    });
    expect(
      unfinishedForwardOf(
        back,
        madeByForward({ [MIGRATION_SPEC_ANNOTATION]: JSON.stringify(other) }),
        observed(STRETCHED),
      ),
    ).toBeUndefined();
  });
});
