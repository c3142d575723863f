import type { V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { msPerChange, overheadOf } from '../../bench/lib/breakdown.js';
import { formatAll, formatSpread, markdownTable, median, spread } from '../../bench/lib/stats.js';
import { articleManifests } from '../../bench/lib/source-etcd.js';
import type { StretchRun } from '../../bench/lib/stretch-run.js';
import { targetManifests } from '../../bench/lib/target-etcd.js';
import proto from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { temporalTiming } from '../../bench/lib/temporal-timing.js';
import type { MethodRun } from '../../bench/lib/method-run.js';
import { methodsTable } from '../../bench/suites/methods.js';

describe('median and spread', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('formats the median with the range only when values differ', () => {
    expect(formatSpread(spread([2, 1, 4]))).toBe('2.0 (1.0-4.0)');
    expect(formatSpread(spread([7, 7]), 0)).toBe('7');
    expect(formatSpread(spread([0.5]), 2)).toBe('0.50');
    expect(formatSpread(spread([]))).toBe('n/a');
  });

  it('says yes, no, or how many repetitions said yes', () => {
    expect(formatAll([true, true])).toBe('yes');
    expect(formatAll([false])).toBe('no');
    expect(formatAll([true, false, true])).toBe('2/3 yes');
  });
});

describe('markdownTable', () => {
  it('pads columns to the widest cell under a rule', () => {
    expect(markdownTable(['a', 'long header'], [['value', 1]]).split('\n')).toEqual([
      '| a     | long header |',
      '| ----- | ----------- |',
      '| value | 1           |',
    ]);
  });
});

function run(steps: [string, string, number][], durationMs: number, membershipChanges = 0): StretchRun {
  return {
    durationMs,
    membershipChanges,
    steps: steps.map(([phase, kind, ms]) => ({ id: `${phase}/${kind}`, phase, kind, ms })),
  } as StretchRun;
}

describe('overheadOf', () => {
  it('takes catch-up, load balancers and soak out of the total and lists the rest by step kind', () => {
    const b = overheadOf(
      run(
        [
          ['expose', 'await-load-balancers', 1000],
          ['join', 'add-learner', 5000],
          ['join', 'await-catch-up', 4000],
          ['join', 'add-learner', 3000],
          ['finalize', 'soak', 5000],
        ],
        20_000,
      ),
    );
    expect(b.unavoidableMs).toBe(10_000);
    expect(b.overheadMs).toBe(10_000);
    expect(b.byKind['add-learner']).toBe(8000);
    expect(b.byKind['(between steps: workflow tasks, start, result)']).toBe(2000);
    expect(b.byKind['soak']).toBeUndefined();
  });

  it("takes each promote's peer-link window out as a safety window, when the run had the check", () => {
    const steps: [string, string, number][] = [
      ['join', 'promote', 7000],
      ['join', 'promote', 4000],
      ['join', 'add-learner', 1000],
    ];
    const b = overheadOf({ ...run(steps, 12_000), peerLinkWindowMs: 6000 });
    expect(b.safetyWindowMs).toBe(10_000);
    expect(b.byKind['promote']).toBe(1000);
    expect(b.overheadMs).toBe(2000);
    // A run recorded before the check: its promotes are all overhead.
    const old = overheadOf(run(steps, 12_000));
    expect(old.safetyWindowMs).toBe(0);
    expect(old.byKind['promote']).toBe(11_000);
  });
});

describe("overheadOf with etcd's rules and pod starts", () => {
  it('takes what results report waiting for etcd, and scale-target, out of the overhead', () => {
    const r = run(
      [
        ['join', 'add-learner', 2000],
        ['join', 'scale-target', 1500],
        ['join', 'promote', 4000],
      ],
      8000,
    );
    r.steps[0]!.etcdWaitMs = 1800;
    // More than the step took cannot be etcd's: capped at the step.
    r.steps[2]!.etcdWaitMs = 9000;
    const b = overheadOf(r);
    expect(b.etcdRulesMs).toBe(5800);
    expect(b.podStartMs).toBe(1500);
    expect(b.byKind['add-learner']).toBe(200);
    expect(b.byKind['promote']).toBe(0);
    expect(b.byKind['scale-target']).toBeUndefined();
    expect(b.overheadMs).toBe(700);
  });
});

describe('overheadOf with the switch-clients gate', () => {
  it('counts the gate the benchmark held for its clients as the client switch, other gates as overhead', () => {
    const r = run(
      [
        ['join', 'gate', 100],
        ['retire', 'gate', 700],
      ],
      1000,
    );
    r.steps[0]!.id = 'gate/join';
    r.steps[1]!.id = 'gate/switch-clients';
    const b = overheadOf(r);
    expect(b.clientSwitchMs).toBe(700);
    expect(b.byKind['gate']).toBe(100);
    expect(b.overheadMs).toBe(300);
  });
});

describe('overheadOf with steps that ran at the same time', () => {
  it('splits the time they overlapped between them, so nothing counts twice', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, 0) + ms).toISOString();
    const r = {
      durationMs: 2000,
      membershipChanges: 0,
      steps: [
        // 0-400 ms alone, then two steps side by side: 400-800 ms and 400-1000 ms.
        { id: 'shrink/compact', phase: 'shrink', kind: 'compact', ms: 400, endedAt: at(400) },
        { id: 'a', phase: 'expose', kind: 'create-member-services', ms: 400, endedAt: at(800) },
        { id: 'b', phase: 'expose', kind: 'create-member-services', ms: 600, endedAt: at(1000) },
        { id: 'c', phase: 'expose', kind: 'await-load-balancers', ms: 500, endedAt: at(1500) },
      ],
    } as StretchRun;
    const b = overheadOf(r);
    // 400-800: two steps, 200 ms each; 800-1000: b alone.
    expect(b.byKind['create-member-services']).toBe(600);
    expect(b.unavoidableMs).toBe(500);
    expect(b.byKind['(between steps: workflow tasks, start, result)']).toBe(500);
    expect(b.overheadMs).toBe(1500);
  });
});

describe('msPerChange', () => {
  it('divides the membership phases, gates excluded, by the membership changes', () => {
    const r = run(
      [
        ['join', 'add-learner', 1000],
        ['join', 'await-catch-up', 3000],
        ['retire', 'gate', 60_000],
        ['retire', 'remove-member', 2000],
        ['finalize', 'soak', 5000],
      ],
      80_000,
      2,
    );
    expect(msPerChange(r)).toBe(3000);
  });
});

describe('benchmark manifests', () => {
  const sts = (objects: ReturnType<typeof articleManifests>): V1StatefulSet =>
    objects.find((o) => o.kind === 'StatefulSet') as V1StatefulSet;

  it('lists every member in the source --initial-cluster and drops anti-affinity beyond the 4 sandbox nodes', () => {
    const five = sts(articleManifests('ns', 5));
    expect(five.spec!.replicas).toBe(5);
    expect(five.spec!.template.spec!.containers[0]!.args!.join(' ')).toContain(
      '--initial-cluster etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,etcd-3=http://etcd-3.etcd:2380,etcd-4=http://etcd-4.etcd:2380 ',
    );
    expect(five.spec!.template.spec!.affinity).toBeUndefined();
    expect(sts(articleManifests('ns', 3)).spec!.template.spec!.affinity).toBeDefined();
  });

  it("sets the source etcd's --snapshot-count only when asked", () => {
    const script = (objects: ReturnType<typeof articleManifests>): string =>
      sts(objects).spec!.template.spec!.containers[0]!.args!.join(' ');
    expect(script(articleManifests('ns', 3, { snapshotCount: 1000 }))).toContain(
      '--auto-compaction-retention=1000 --snapshot-count=1000',
    );
    expect(script(articleManifests('ns', 3))).not.toContain('--snapshot-count');
  });

  it('renames the target cluster and, for a restore, waits for a data directory before starting etcd', () => {
    const t = sts(targetManifests('ns', 3, true));
    const [flag, script] = t.spec!.template.spec!.containers[0]!.args!;
    expect(flag).toBe('-c');
    expect(script).toMatch(/^while \[ ! -d \/var\/lib\/etcd\/member \]/);
    expect(script).toContain('--initial-advertise-peer-urls=http://$HOSTNAME.etcd-main:2380');
    expect(script).toContain('--initial-cluster etcd-main-0=http://etcd-main-0.etcd-main:2380,');
    expect(script).not.toMatch(/\betcd-\d=/);
    expect(t.metadata!.name).toBe('etcd-main');
    expect(t.spec!.selector.matchLabels).toEqual({ app: 'etcd-main' });
    expect(sts(targetManifests('ns', 3, false)).spec!.template.spec!.containers[0]!.args![1]).not.toContain(
      'while',
    );
  });
});

describe('temporalTiming', () => {
  it("sums the workflow tasks' and activities' waits and runs from a history", () => {
    const E = proto.temporal.api.enums.v1.EventType;
    const events: unknown[] = [];
    /** Adds an event at `ms` (its attributes under `attr`) and returns its ID. */
    const add = (type: number, ms: number, attr?: string, fields?: Record<string, number>) => {
      const eventId = events.length + 1;
      const eventTime = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
      events.push({ eventId, eventType: type, eventTime, ...(attr ? { [attr]: fields } : {}) });
      return eventId;
    };
    /** A task scheduled, started and ended at those times; `kind` names its event types. */
    const task = (
      kind: 'WORKFLOW' | 'ACTIVITY',
      [scheduled, started, ended]: number[],
      end = 'COMPLETED',
    ) => {
      const word = kind === 'WORKFLOW' ? 'workflowTask' : 'activityTask';
      const s = add(E[`EVENT_TYPE_${kind}_TASK_SCHEDULED`], scheduled!);
      const t = add(E[`EVENT_TYPE_${kind}_TASK_STARTED`], started!, `${word}StartedEventAttributes`, {
        scheduledEventId: s,
      });
      const attr = `${word}${end === 'COMPLETED' ? 'Completed' : 'Failed'}EventAttributes`;
      add(E[`EVENT_TYPE_${kind}_TASK_${end}` as keyof typeof E], ended!, attr, { startedEventId: t });
    };
    add(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 1000);
    task('WORKFLOW', [1000, 1010, 1030]);
    task('ACTIVITY', [1030, 1032, 1500], 'FAILED');
    task('WORKFLOW', [1500, 1505, 1520]);
    expect(temporalTiming({ events } as unknown as History)).toEqual({
      workflowTasks: 2,
      workflowTaskWaitMs: 15,
      workflowTaskRunMs: 35,
      activities: 1,
      activityDispatchMs: 2,
      activityRunMs: 468,
    });
  });
});

describe('methodsTable', () => {
  const run = (
    method: MethodRun['method'],
    migrationMaxMs: number,
    steadyMaxMs: number,
    steadyAsLong?: { windowMs: number; maxMs: number },
  ): MethodRun => ({
    method,
    namespace: 'ns',
    outcome: 'completed',
    durationMs: 20_000,
    fidelity: { revisionsPreserved: true, leasesPreserved: true, details: [] },
    clients: {
      opsTotal: 3000,
      opsPerSecond: 150,
      failedOps: 0,
      indeterminateOps: 0,
      maxWriteGapMs: migrationMaxMs,
      lostWrites: 0,
      staleReads: 0,
      violations: [],
      firstFailures: [],
      writeGaps: {
        steadyMaxMs,
        ...(steadyAsLong ? { steadyAsLong } : {}),
        migrationMaxMs,
        longest: [],
        latency: {
          steady: { puts: 1, p50Ms: 1, p99Ms: 1 },
          migration: { puts: 1, p50Ms: 1, p99Ms: 1 },
          after: { puts: 1, p50Ms: 1, p99Ms: 1 },
        },
      },
    },
  });

  it("gives each method's longest gap against its own run's steady state (goal 5)", () => {
    const rows = methodsTable([
      run('stretch', 60, 20),
      run('stretch', 100, 20),
      run('stretch', 70, 35),
      run('make-mirror', 30, 30),
    ]).split('\n');
    const cells = (method: string) =>
      rows
        .find((r) => r.startsWith(`| ${method} `))!
        .split('|')
        .map((c) => c.trim());
    const column = rows[0]!
      .split('|')
      .map((c) => c.trim())
      .indexOf('longest gap / steady (per run)');
    expect(column).toBeGreaterThan(0);
    expect(cells('stretch')[column]).toBe('3.0 (2.0-5.0)');
    expect(cells('make-mirror')[column]).toBe('1.0');
  });

  it('gives it against a steady stretch as long as the migration, and how long that was', () => {
    const rows = methodsTable([
      run('stretch', 60, 20, { windowMs: 20_000, maxMs: 40 }),
      run('stretch', 100, 20, { windowMs: 19_000, maxMs: 50 }),
      run('stretch', 70, 35, { windowMs: 21_000, maxMs: 35 }),
      run('make-mirror', 30, 30),
    ]).split('\n');
    const header = rows[0]!.split('|').map((c) => c.trim());
    const column = header.indexOf('longest gap / steady as long (per run)');
    expect(column).toBeGreaterThan(0);
    const cells = (method: string) =>
      rows
        .find((r) => r.startsWith(`| ${method} `))!
        .split('|')
        .map((c) => c.trim());
    expect(cells('stretch')[column]).toBe('2.0 (1.5-2.0) over 20 (19-21) s');
    // Recorded before the field: no ratio is made up.
    expect(cells('make-mirror')[column]).toBe('-');
  });
});
