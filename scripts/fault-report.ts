/**
 * Gathers the fault runs' rows (reports/faults/*.json, one per run, written by the fault tests)
 * into reports/faults.json and reports/faults.md, and prints the Markdown table.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../sandbox/config.js';
import { FAULT_ROWS_DIR, faultTable, type FaultRow } from '../test/helpers/fault-report.js';

const rows: FaultRow[] = fs.existsSync(FAULT_ROWS_DIR)
  ? fs
      .readdirSync(FAULT_ROWS_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(FAULT_ROWS_DIR, f), 'utf8')) as FaultRow)
  : [];
if (rows.length === 0) {
  process.stderr.write(`fault-report: no fault runs recorded in ${FAULT_ROWS_DIR}\n`);
  process.exit(1);
}
rows.sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
const machine = `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
const table = faultTable(rows);
const out = path.join(REPO_ROOT, 'reports');
fs.writeFileSync(
  path.join(out, 'faults.json'),
  JSON.stringify({ generatedAt: new Date().toISOString(), machine, rows }, null, 2),
);
fs.writeFileSync(
  path.join(out, 'faults.md'),
  `# Fault runs (${new Date().toISOString().slice(0, 10)})\n\nMachine: ${machine}\n\n${table}\n\nNotes:\n${rows
    .map((r) => `- ${r.scenario}: ${r.notes.filter(Boolean).join('; ') || '-'}`)
    .join('\n')}\n`,
);
process.stdout.write(`${table}\n\nwritten: reports/faults.json, reports/faults.md\n`);
