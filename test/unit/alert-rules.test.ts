/** docs/alerts/etcd-stretch-rules.yaml parses as Prometheus rules and uses only metrics that exist. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { REPO_ROOT } from '../../sandbox/config.js';
import { LEARNER_LAG_METRIC } from '../../activities/run-context.js';
import { GUARD_REFUSALS_METRIC, MEMBERSHIP_CHANGES_METRIC } from '../../worker/metrics.js';
import { GATE_WAIT_METRIC, MIGRATIONS_METRIC } from '../../worker/migration-gauges.js';
import { PHASE_DURATION_METRIC, RUNS_FINISHED_METRIC } from '../../workflows/migration-metrics.js';

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = path.join(REPO_ROOT, 'docs', 'alerts', 'etcd-stretch-rules.yaml');
const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const rules = doc.groups.flatMap((g) => g.rules);
const ours = [
  MIGRATIONS_METRIC,
  GATE_WAIT_METRIC,
  LEARNER_LAG_METRIC,
  PHASE_DURATION_METRIC,
  RUNS_FINISHED_METRIC,
  MEMBERSHIP_CHANGES_METRIC,
  GUARD_REFUSALS_METRIC,
];

describe('example alert rules', () => {
  it('are Prometheus rule groups: each alert with an expression, a severity and a summary', () => {
    expect(doc.groups.length).toBeGreaterThan(0);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(typeof r.expr).toBe('string');
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhd]$/);
    }
  });

  it('use only etcd-stretch metrics that the code exports, and alert on the gauges', () => {
    const used = new Set(rules.flatMap((r) => r.expr!.match(/etcd_stretch_\w+/g) ?? []));
    for (const m of used) expect(ours, m).toContain(m);
    for (const gauge of [MIGRATIONS_METRIC, GATE_WAIT_METRIC, LEARNER_LAG_METRIC])
      expect(used).toContain(gauge);
  });

  it('every metric is in docs/observability.md', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'observability.md'), 'utf8');
    for (const m of ours) expect(doc, m).toContain(`\`${m}\``);
  });
});
