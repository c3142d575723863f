import { describe, expect, it } from 'vitest';
import { activitySummary } from '../../workflows/activity-summary.js';
import { currentDetails } from '../../workflows/current-details.js';
import { initialStatus } from '../../workflows/status.js';

const titles: Record<string, string> = {
  'join/etcd-new-0/add-learner': 'add etcd-new-0 as a learner (https://etcd-new-0:2380)',
  'expose/target/issue-certificates': 'issue certificates\nfor the target',
};
const title = (id: string) => titles[id];

describe('activity summaries', () => {
  it('name the plan step a call runs, and the cluster', () => {
    expect(activitySummary('addLearner', { stepId: 'join/etcd-new-0/add-learner' }, 'source', title)).toBe(
      'add etcd-new-0 as a learner (https://etcd-new-0:2380) [source]',
    );
  });
  it('name the step an undo reverses', () => {
    expect(
      activitySummary(
        'removeLearner',
        { undoes: 'join/etcd-new-0/add-learner', member: 'etcd-new-0' },
        'source',
        title,
      ),
    ).toBe('undo: add etcd-new-0 as a learner (https://etcd-new-0:2380) [source]');
  });
  it('stay on one line, and fall back to the step id, the member or the part', () => {
    expect(
      activitySummary('issueCertificates', { stepId: 'expose/target/issue-certificates' }, 'target', title),
    ).toBe('issue certificates for the target [target]');
    expect(activitySummary('promote', { stepId: 'join/x/promote' }, 'source', title)).toBe(
      'join/x/promote [source]',
    );
    expect(activitySummary('observe', {}, 'source', title)).toBe('read the member list and health [source]');
    expect(activitySummary('removeLearner', { member: 'etcd-new-0' }, undefined, title)).toBe(
      'removeLearner etcd-new-0',
    );
    expect(activitySummary('preflight', { part: 'target' }, 'target', title)).toBe(
      'preflight checks (target part) [target]',
    );
  });
});

describe('current details', () => {
  it('say the state, phase, step and the gate the run waits at', () => {
    const s = initialStatus();
    s.workflowState = 'waiting-approval';
    s.phase = 'join';
    s.step = { index: 6, total: 30, id: 'gate/join', title: 'gate join (manual)' };
    s.waitingFor = { kind: 'approval', gate: 'join', since: '2026-12-06T22:00:00Z', how: 'signal approve' };
    expect(currentDetails(s).split('\n\n')).toEqual([
      '**waiting-approval** in phase **join**',
      'step 7/30: gate join (manual)',
      'waiting for approval at gate **join** since 2026-12-06T22:00:00Z: signal approve',
    ]);
  });
  it('name the undo running in a rollback', () => {
    const s = initialStatus();
    s.workflowState = 'rolling-back';
    s.compensations = [
      { title: 'remove member etcd-new-1', state: 'done', startedAt: 'a', endedAt: 'b' },
      { title: 'remove member etcd-new-0', state: 'pending', startedAt: 'c' },
    ];
    expect(currentDetails(s)).toContain('undo 2/2: remove member etcd-new-0');
  });
});
