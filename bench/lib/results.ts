/** Writes a suite's result as bench/results/<name>.json and prints its Markdown table. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../sandbox/config.js';
import { loadAvg, machineLine, type MachineDescription } from './machine.js';

export interface SuiteResult {
  suite: string;
  quick: boolean;
  startedAt: string;
  endedAt: string;
  machine: MachineDescription & { loadAvgEnd: number[] };
  notes: string[];
  table: string;
  runs: unknown;
  summary?: unknown;
}

export function publish(
  name: string,
  r: Omit<SuiteResult, 'endedAt' | 'machine'> & { machine: MachineDescription },
): string {
  const loadAvgEnd = loadAvg();
  const full: SuiteResult = {
    ...r,
    endedAt: new Date().toISOString(),
    machine: { ...r.machine, loadAvgEnd },
  };
  const file = path.join(REPO_ROOT, 'bench', 'results', `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  const text = [
    `### ${r.suite}${r.quick ? ' (quick)' : ''}: ${full.endedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${machineLine(r.machine, loadAvgEnd)}.`,
    '',
    r.table,
    '',
    ...r.notes.map((n) => `- ${n}`),
  ].join('\n');
  console.log(`\n${text}\n\nwritten to ${path.relative(REPO_ROOT, file)}`);
  return text;
}
