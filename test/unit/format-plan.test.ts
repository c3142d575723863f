import { describe, expect, it } from 'vitest';
import { formatPlan, formatPlanTable, PLAN_TABLE_HEADERS } from '../../core/planner/format-plan.js';
import { planMigration } from '../../core/planner/plan.js';
import { makeSpec, observedMembers } from './fixtures/migration-spec.js';

function plan(n: number, m: number, mutate: Parameters<typeof makeSpec>[0] = () => {}) {
  const spec = makeSpec((s) => {
    s.target.replicas = m;
    mutate(s);
  });
  return planMigration({ spec, observed: { members: observedMembers(n) } });
}

describe('formatPlanTable', () => {
  const p = plan(3, 3);
  const lines = formatPlanTable(p).split('\n');

  it('has a header, a rule and one line per step', () => {
    expect(lines).toHaveLength(p.steps.length + 2);
    expect(lines[0]?.trim().split(/\s{2,}/)).toEqual([...PLAN_TABLE_HEADERS]);
    expect(lines[1]).toMatch(/^[- ]+$/);
  });

  it('marks the steps that run at the same time, and only those', () => {
    const marked = lines.slice(2).flatMap((line, i) => (line.trim().startsWith('=') ? [p.steps[i]!.id] : []));
    expect(marked).toEqual(p.steps.filter((s) => s.together).map((s) => s.id));
    expect(marked).toContain('dns/target/configure-dns');
    expect(formatPlan(p)).toContain('(=: runs at the same time as the marked steps next to it)');
  });

  it('is fixed-width: every column starts at the same offset on every line', () => {
    const header = lines[0] ?? '';
    const offsets = PLAN_TABLE_HEADERS.slice(1).map((h) => header.indexOf(h));
    const rule = lines[1] ?? '';
    const ruleOffsets = [...rule.matchAll(/-+/g)].slice(1).map((match) => match.index);
    expect(ruleOffsets).toEqual(offsets);
    for (const line of lines.slice(2)) {
      for (const offset of offsets) expect(line[offset - 1], line).toBe(' ');
    }
  });

  it('shows the membership numbers of each step', () => {
    const promote = lines.find((l) => l.includes('promote etcd-main-2 to voter')) ?? '';
    expect(promote).toMatch(/\s3\/3\s+-\s+4\s+2\s+NEITHER$/);
    const learner = lines.find((l) => l.includes('add etcd-main-2 as a learner')) ?? '';
    expect(learner).toMatch(/\s3\/2\s+etcd-main-2\s+3\s+2\s+old$/);
    const last = lines[lines.length - 1] ?? '';
    expect(last).toMatch(/^\s*46\s+cleanup\s+delete StatefulSet etcd .*\s0\/3\s+-\s+2\s+1\s+new$/);
    expect(lines.filter((l) => l.endsWith('NEITHER'))).toHaveLength(1);
  });
});

describe('formatPlan (the dry run)', () => {
  it('prints summary, table, exact initial clusters and warnings', () => {
    const text = formatPlan(
      plan(3, 3, (s) => {
        s.target.loadBalancer = { allowAnyone: true };
      }),
    );
    expect(text).toContain('source: etcd-0, etcd-1, etcd-2 (3 members, tolerates 1)');
    expect(text).toContain('target: etcd-main-0, etcd-main-1, etcd-main-2 (3 members, tolerates 1)');
    expect(text).toContain(
      'phases: preflight -> shrink -> expose -> dns -> join -> leader -> retire -> finalize -> cleanup',
    );
    expect(text).toContain(
      '  etcd-main-0: etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380,etcd-main-0=http://etcd-main-0.etcd-main:2380',
    );
    expect(text).toContain(
      '  final: etcd-main-0=http://etcd-main-0.etcd-main:2380,etcd-main-1=http://etcd-main-1.etcd-main:2380,etcd-main-2=http://etcd-main-2.etcd-main:2380',
    );
    expect(text).toMatch(/warnings:\n(\s+- .*\n)*\s+- !!! target\.loadBalancer\.allowAnyone is set/);
  });

  it('renders a small plan exactly', () => {
    const text = formatPlanTable(
      plan(1, 1, (s) => {
        s.target.context = 'source';
        Object.assign(s, { shrink: { enabled: false } });
      }),
    );
    expect(text).toBe(
      [
        ' #  phase      step                                                                                  voters old/new  learners     quorum  tolerates  majority on partition',
        '--  ---------  ------------------------------------------------------------------------------------  --------------  -----------  ------  ---------  ---------------------',
        ' 1  preflight  preflight: health, member list, versions, hashKV; etcd-main absent (nothing changes)  1/0             -                 1          0  old',
        ' 2  expose     gate expose (auto)                                                                    1/0             -                 1          0  old',
        ' 3  expose     create headless Service etcd-main in source/default                                   1/0             -                 1          0  old',
        ' 4  join       gate join (auto)                                                                      1/0             -                 1          0  old',
        ' 5  join       add etcd-main-0 as a learner (http://etcd-main-0.etcd-main:2380)                      1/0             etcd-main-0       1          0  old',
        ' 6  join       start etcd-main-0: etcd-main to 1 replica, initial cluster of 2                       1/0             etcd-main-0       1          0  old',
        ' 7  join       wait until learner etcd-main-0 has caught up with the leader                          1/0             etcd-main-0       1          0  old',
        ' 8  join       hashKV agrees on etcd-0                                                               1/0             etcd-main-0       1          0  old',
        ' 9  leader     gate leader (auto)                                                                    1/0             etcd-main-0       1          0  old',
        '10  leader     check that learner etcd-main-0 is still caught up                                     1/0             etcd-main-0       1          0  old',
        '11  leader     promote etcd-main-0 to voter                                                          1/1             -                 2          0  NEITHER',
        '12  leader     move leadership to etcd-main-0                                                        1/1             -                 2          0  NEITHER',
        '13  retire     gate switch-clients (manual): point clients at http://etcd-main-0.etcd-main:2379      1/1             -                 2          0  NEITHER',
        '14  retire     hashKV agrees on etcd-0, etcd-main-0                                                  1/1             -                 2          0  NEITHER',
        '15  retire     remove etcd-0 from the cluster                                                        0/1             -                 1          0  new',
        '16  retire     scale etcd to 0 (stops etcd-0; PVCs kept)                                             0/1             -                 1          0  new',
        '17  retire     hashKV agrees on etcd-main-0                                                          0/1             -                 1          0  new',
        '18  finalize   gate finalize (auto)                                                                  0/1             -                 1          0  new',
        "19  finalize   rewrite etcd-main's --initial-cluster to the new members only (no pod restarts)       0/1             -                 1          0  new",
        '20  finalize   soak: let the new cluster run alone for 10m                                           0/1             -                 1          0  new',
        '21  cleanup    gate cleanup (manual)                                                                 0/1             -                 1          0  new',
        '22  cleanup    delete StatefulSet etcd and Service etcd in source/default                            0/1             -                 1          0  new',
      ].join('\n'),
    );
  });
});
