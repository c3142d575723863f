/**
 * One row per fault run (reports/faults/<id>.json), gathered by `npm run faults` into
 * reports/faults.json and a Markdown table (scripts/fault-report.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../sandbox/config.js';
import type { ScenarioReport } from './acceptance.js';

export const FAULT_ROWS_DIR = path.join(REPO_ROOT, 'reports', 'faults');

export interface FaultRow {
  id: string;
  scenario: string;
  outcome: string;
  failedOps: number;
  indeterminateOps: number;
  maxWriteGapMs: number;
  lostWrites: number;
  checkerViolations: number;
  quorumLost: boolean;
  longestQuorumLossMs: number;
  duplicateChanges: string[];
  /** From the fault until the run was past it again (null: no recovery to measure). */
  recoveryMs: number | null;
  opsTotal: number;
  durationMs: number;
  notes: string[];
  recordedAt: string;
}

export function recordFaultRun(
  id: string,
  scenario: string,
  r: ScenarioReport,
  extra: { outcome?: string; recoveryMs?: number | null; notes?: string[] } = {},
): FaultRow {
  const row: FaultRow = {
    id,
    scenario,
    outcome: extra.outcome ?? r.outcome,
    failedOps: r.failedOps,
    indeterminateOps: r.indeterminateOps,
    maxWriteGapMs: r.maxWriteGapMs,
    lostWrites: r.lostWrites,
    checkerViolations: r.check.violations.length,
    quorumLost: r.quorum.quorumLost,
    longestQuorumLossMs: r.quorum.longestQuorumLossMs,
    duplicateChanges: r.quorum.duplicateChanges,
    recoveryMs: extra.recoveryMs ?? null,
    opsTotal: r.opsTotal,
    durationMs: r.durationMs,
    notes: extra.notes ?? [],
    recordedAt: new Date().toISOString(),
  };
  fs.mkdirSync(FAULT_ROWS_DIR, { recursive: true });
  fs.writeFileSync(path.join(FAULT_ROWS_DIR, `${id}.json`), JSON.stringify(row, null, 2));
  return row;
}

const seconds = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

export function faultTable(rows: FaultRow[]): string {
  const lines = [
    '| scenario | outcome | failed ops | indeterminate ops | max write gap | quorum lost | duplicate changes | recovery time |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.outcome} | ${r.failedOps} | ${r.indeterminateOps} | ${seconds(r.maxWriteGapMs)} | ${r.quorumLost ? `yes (${seconds(r.longestQuorumLossMs)})` : 'no'} | ${r.duplicateChanges.length ? r.duplicateChanges.join('; ') : '0'} | ${seconds(r.recoveryMs)} |`,
    );
  }
  return lines.join('\n');
}
