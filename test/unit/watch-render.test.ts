/**
 * `watch` and `status` rendering: the terminal screen (renderStatus) and the plain progress line
 * (progressLine), fed with a status as the workflow reports it and pending activities as
 * Temporal describes them (heartbeats encoded by the SDK's payload converter, shaped as
 * awaitCatchUp and rollingDefragment send them).
 */
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { runningSteps } from '../../client/live-progress.js';
import { progressBar, removedMembers, renderStatus } from '../../client/render-status.js';
import { progressLine } from '../../client/watch.js';
import { initialStatus, type MigrationStatus, type StepProgress } from '../../workflows/status.js';

const after = {
  voters: { old: ['etcd-0', 'etcd-1'], new: ['etcd-main-0'] },
  learners: { old: [], new: [] },
  quorum: 2,
  faultTolerance: 1,
  majoritySideOnPartition: 'old' as const,
};

function step(id: string, kind: StepProgress['kind'], state: StepProgress['state']): StepProgress {
  return { id, phase: id.split('/')[0] as StepProgress['phase'], kind, title: id, state, after };
}

function status(over: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    ...initialStatus(),
    workflowState: 'running',
    phase: 'join',
    step: { index: 3, total: 6, id: 'join/etcd-main-1/await-catch-up', title: 'wait for etcd-main-1' },
    plan: {
      steps: [
        step('shrink/rolling-defragment', 'rolling-defragment', 'done'),
        step('join/etcd-main-0/add-learner', 'add-learner', 'done'),
        step('retire/etcd-2/remove-member', 'remove-member', 'done'),
        step('join/etcd-main-1/await-catch-up', 'await-catch-up', 'running'),
        step('join/etcd-main-1/promote', 'promote', 'pending'),
        step('cleanup/source-pvcs', 'cleanup-source-pvcs', 'pending'),
      ],
      warnings: [],
      requiredFaultTolerance: 1,
    },
    members: [
      { name: 'etcd-0', id: '11', isLearner: false, side: 'source' },
      { name: 'etcd-1', id: '12', isLearner: false, side: 'source' },
      { name: 'etcd-main-0', id: '21', isLearner: false, side: 'target' },
      { name: 'etcd-main-1', id: '22', isLearner: true, side: 'target' },
    ],
    ...over,
  };
}

function pending(activityType: string, beat: unknown, attempt = 1, lastFailure?: string) {
  return {
    raw: {
      pendingActivities: [
        {
          activityType: { name: activityType },
          attempt,
          heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload(beat)] },
          ...(lastFailure ? { lastFailure: { message: lastFailure } } : {}),
        },
      ],
    },
  } as never;
}

const catchUp = pending('awaitCatchUp', {
  member: 'etcd-main-1',
  learnerApplied: 420,
  leaderApplied: 1000,
  percent: 42,
  reachable: true,
  elapsedMs: 3000,
});
const defrag = pending(
  'rollingDefragment',
  {
    rollingDefragment: { done: ['11'], leaderBefore: '12' },
    detail: { defragment: 'etcd-1', elapsedMs: 4000 },
  },
  2,
  'etcdserver: request timed out',
);

describe('live progress from pending activities', () => {
  it("decodes a learner's catch-up and a rolling defragmentation from their heartbeats", () => {
    expect(runningSteps(catchUp)).toEqual([
      {
        activityType: 'awaitCatchUp',
        attempt: 1,
        catchUp: { member: 'etcd-main-1', percent: 42, learnerApplied: 420, leaderApplied: 1000 },
      },
    ]);
    expect(runningSteps(defrag)[0]).toMatchObject({
      activityType: 'rollingDefragment',
      attempt: 2,
      lastFailure: 'etcdserver: request timed out',
      defragment: { member: 'etcd-1', elapsedMs: 4000, doneMembers: 1 },
    });
    expect(runningSteps({ raw: { pendingActivities: [] } })).toEqual([]);
  });
});

describe('terminal screen (renderStatus)', () => {
  it('shows the progress bar, each member as voter, learner with catch-up or removed', () => {
    const text = renderStatus('m1', status(), { running: runningSteps(catchUp) });
    expect(text).toContain('m1: running, phase join — step 4/6: wait for etcd-main-1');
    expect(text).toContain(progressBar(3, 6));
    expect(text).toMatch(/etcd-main-0\s+target\s+21\s+voter/);
    expect(text).toMatch(/etcd-main-1\s+target\s+22\s+learner catching up 42% \(420\/1000\)/);
    expect(text).toMatch(/etcd-2\s+removed/);
    expect(removedMembers(status())).toEqual(['etcd-2']);
  });

  it('lists what a rollback without the target left behind, to delete by hand', () => {
    const text = renderStatus(
      'm1',
      status({
        workflowState: 'aborted',
        compensations: [
          {
            title: 'delete headless Service etcd-main (target)',
            state: 'failed',
            error: 'cannot reach the API server',
          },
        ],
        leftBehind: {
          objects: { target: ['headless Service etcd-main in target/default'] },
          members: [],
          undos: [
            { title: 'delete headless Service etcd-main (target)', error: 'cannot reach the API server' },
          ],
        },
      }),
    );
    expect(text).toContain(
      'undo failed: delete headless Service etcd-main (target) (cannot reach the API server)',
    );
    expect(text).toContain('left behind in target: headless Service etcd-main in target/default');
  });

  it('shows a defragmentation in progress with its retries', () => {
    const text = renderStatus('m1', status({ phase: 'shrink' }), { running: runningSteps(defrag) });
    expect(text).toContain(
      'running rollingDefragment: defragmenting etcd-1 for 4 s, 1 member(s) done attempt 2, last failure: etcdserver: request timed out',
    );
  });

  it('says what the run waits for and who can approve it', () => {
    const text = renderStatus(
      'm1',
      status({
        workflowState: 'waiting-approval',
        waitingFor: {
          kind: 'approval',
          gate: 'switch-clients',
          since: '2026-01-01T00:00:00Z',
          how: 'signal approve',
        },
      }),
      { namespace: 'prod' },
    );
    expect(text).toContain('waiting for approval of gate "switch-clients" since 2026-01-01T00:00:00Z');
    expect(text).toContain(
      'who can approve: anyone allowed to signal workflows in Temporal namespace "prod"',
    );
    expect(text).toContain('etcd-stretch approve m1 switch-clients');
  });
});

describe('a learner not started yet (no name in the member list)', () => {
  it('is the member the current join step adds, with its catch-up', () => {
    const s = status();
    s.members = s.members.map((m) => (m.name === 'etcd-main-1' ? { ...m, name: '' } : m));
    expect(progressLine(s, runningSteps(catchUp))).toContain('etcd-main-1=learner 42%');
    expect(renderStatus('m1', s, { running: runningSteps(catchUp) })).toMatch(
      /etcd-main-1\s+target\s+22\s+learner \(not started\) catching up 42%/,
    );
    s.step = { index: 5, total: 6, id: 'join/end/verify-consistency', title: 'verify' };
    expect(progressLine(s)).toContain('(unnamed 22)=learner');
    s.step = null;
    expect(progressLine(s)).toContain('(unnamed 22)=learner');
  });
});

describe('plain lines (progressLine)', () => {
  it('holds phase, step, members with catch-up and removals, and changes when the percentage does', () => {
    const line = progressLine(status(), runningSteps(catchUp));
    expect(line).toBe(
      'running | phase join | step 4/6 join/etcd-main-1/await-catch-up | members etcd-0=voter etcd-1=voter etcd-main-0=voter etcd-main-1=learner 42% etcd-2=removed',
    );
    const later = pending('awaitCatchUp', {
      member: 'etcd-main-1',
      learnerApplied: 990,
      leaderApplied: 1000,
      percent: 99,
    });
    expect(progressLine(status(), runningSteps(later))).not.toBe(line);
  });

  it('names the gate it waits at, a defragmentation and the rollback progress', () => {
    expect(
      progressLine(
        status({
          workflowState: 'waiting-approval',
          waitingFor: { kind: 'approval', gate: 'join', since: '', how: '' },
        }),
      ),
    ).toContain('waiting for approval: join');
    expect(progressLine(status(), runningSteps(defrag))).toContain(
      'defragment etcd-1 (1 done) | rollingDefragment attempt 2',
    );
    expect(
      progressLine(
        status({
          workflowState: 'rolling-back',
          compensations: [
            { title: 'a', state: 'done' },
            { title: 'b', state: 'pending' },
          ],
        }),
      ),
    ).toContain('rollback 1/2');
  });
});
