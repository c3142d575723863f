/**
 * Per-cluster resume: the target worker merges what each side's worker observed of etcd through
 * the members it reaches (activities/migration/resume-preflight.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ClusterObservation, EndpointObservation } from '../../activities/etcd/types.js';
import { mergedViews } from '../../activities/migration/resume-preflight.js';

const MEMBERS = [
  ['etcd-0', '1'],
  ['etcd-1', '2'],
  ['etcd-main-0', '3'],
  ['etcd-main-1', '4'],
] as const;

function endpoint(name: string, id: string, healthy: boolean): EndpointObservation {
  return {
    name,
    endpoint: `http://${name}:2379`,
    reachable: healthy,
    ...(healthy
      ? {
          health: { name, endpoint: `http://${name}:2379`, healthy, check: 'linearizable-read', tookMs: 1 },
          status: { id } as EndpointObservation['status'],
        }
      : { error: 'connection refused' }),
  };
}

/** One side's observation: the whole member list, answers from its own members only. */
function sideView(prefix: string, leaderId: string | null, alarm?: string): ClusterObservation {
  const own = MEMBERS.filter(([name]) => name.startsWith(prefix) && !name.slice(prefix.length).includes('-'));
  return {
    observedAt: '2026-12-07T00:00:00Z',
    clusterId: 'c1',
    members: MEMBERS.map(([name, id]) => ({ id, name, peerURLs: [], clientURLs: [], isLearner: false })),
    endpoints: own.map(([name, id]) => endpoint(name, id, true)),
    leaderId,
    alarms: alarm ? [{ memberId: own[0]![1], alarm }] : [],
    unobservedMemberIds: MEMBERS.filter(([name]) => !own.some(([n]) => n === name)).map(([, id]) => id),
  };
}

describe('merging the two sides’ views of etcd for a per-cluster resume', () => {
  it('takes each member’s answer from the side that reached it; none is left unobserved', () => {
    const merged = mergedViews(
      { observation: sideView('etcd-', '3', 'NOSPACE') },
      { observation: sideView('etcd-main-', null) },
    );
    if (!('observation' in merged)) throw new Error(merged.error);
    expect(merged.observation.endpoints.map((e) => e.name).sort()).toEqual(MEMBERS.map(([n]) => n).sort());
    expect(merged.observation.unobservedMemberIds).toEqual([]);
    expect(merged.observation.leaderId).toBe('3');
    expect(merged.observation.alarms).toEqual([{ memberId: '1', alarm: 'NOSPACE' }]);
  });

  it('uses the one side that answered: before the first join, after the last old member left', () => {
    const source = { observation: sideView('etcd-', '1') };
    const target = { observation: sideView('etcd-main-', '3') };
    expect(mergedViews(source, { error: 'no target member runs' })).toBe(source);
    expect(mergedViews({ error: 'no source member runs' }, target)).toBe(target);
  });

  it('names both sides’ reasons when neither answered', () => {
    expect(mergedViews({ error: 'source down' }, { error: 'target down' })).toEqual({
      error: 'source members: source down; target members: target down',
    });
  });
});
