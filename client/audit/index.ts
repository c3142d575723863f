/**
 * `etcd-stretch audit`: a run's Temporal history -> `reports/audit-<workflowId>.md` and `.html`.
 * The history comes from the Temporal server (`handle.fetchHistory()`) or from a file exported
 * with `temporal workflow show --workflow-id <id> --output json` (or the Web UI's download).
 * Everything but reading and writing is pure (history.ts, document.ts, render-*.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import type { PayloadCodec } from '@temporalio/common';
import { decodeHistoryPayloads } from './decode-payloads.js';
import { buildAudit } from './history.js';
import type { AuditReport } from './model.js';
import { auditHtml } from './render-html.js';
import { auditMarkdown } from './render-markdown.js';

export { buildAudit } from './history.js';
export { auditMarkdown } from './render-markdown.js';
export { auditHtml } from './render-html.js';
export type { AuditReport } from './model.js';

/** What the audit needs of a Temporal `Client` (a fake in tests). */
export interface HistorySource {
  workflow: { getHandle(workflowId: string, runId?: string): { fetchHistory(): Promise<History> } };
}

export async function readHistoryFile(file: string): Promise<History> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a JSON history (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new Error(`${file}: no "events" array (export it with: temporal workflow show --output json)`);
  }
  return historyFromJSON(json);
}

export async function fetchWorkflowHistory(
  client: HistorySource,
  workflowId: string,
  runId?: string,
): Promise<History> {
  return client.workflow.getHandle(workflowId, runId).fetchHistory();
}

/** `audit-<workflowId>` with anything a file name should not hold replaced. */
export function auditFileBase(workflowId: string): string {
  return `audit-${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export interface AuditFiles {
  markdown: string;
  html: string;
  /** The report as JSON (the audit model, client/audit/model.ts). */
  json: string;
}

export async function writeAuditFiles(report: AuditReport, outDir: string): Promise<AuditFiles> {
  await fs.mkdir(outDir, { recursive: true });
  const base = path.join(outDir, auditFileBase(report.workflowId));
  const files = { markdown: `${base}.md`, html: `${base}.html`, json: `${base}.json` };
  await fs.writeFile(files.markdown, auditMarkdown(report));
  await fs.writeFile(files.html, auditHtml(report));
  await fs.writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  return files;
}

export interface AuditOptions {
  /** The run to audit (required unless `historyFile` is given; then it only names the report). */
  workflowId?: string;
  runId?: string;
  /** Read this exported history instead of asking the server. */
  historyFile?: string;
  outDir: string;
  /** How to reach the server (only without `historyFile`). */
  connect?: () => Promise<{ client: HistorySource; close: () => Promise<void> }>;
  /** The worker's payload codec, when its payloads are encrypted. */
  codec?: PayloadCodec;
  /** The Temporal Web UI's address and the namespace, for a link to the run (default: ETCD_STRETCH_UI_URL, TEMPORAL_NAMESPACE). */
  ui?: { url: string; namespace: string };
}

function uiFromEnvironment(env: NodeJS.ProcessEnv = process.env): AuditOptions['ui'] {
  const url = env.ETCD_STRETCH_UI_URL;
  return url ? { url, namespace: env.TEMPORAL_NAMESPACE || 'default' } : undefined;
}

export async function runAudit(opts: AuditOptions): Promise<{ report: AuditReport; files: AuditFiles }> {
  let history: History;
  if (opts.historyFile) {
    history = await readHistoryFile(opts.historyFile);
  } else {
    if (!opts.workflowId) throw new Error('audit: give a workflow ID, or --history <file>');
    if (!opts.connect) throw new Error('audit: no Temporal connection');
    const { client, close } = await opts.connect();
    try {
      history = await fetchWorkflowHistory(client, opts.workflowId, opts.runId);
    } finally {
      await close();
    }
  }
  await decodeHistoryPayloads(history, opts.codec);
  // Older servers' exports do not name the workflow: then the file name does.
  const fallbackId =
    opts.workflowId ?? (opts.historyFile ? path.basename(opts.historyFile, '.json') : undefined);
  const ui = opts.ui ?? uiFromEnvironment();
  const report = buildAudit(history, { workflowId: fallbackId, runId: opts.runId, ...(ui ? { ui } : {}) });
  if (opts.workflowId && opts.historyFile && report.workflowId !== opts.workflowId) {
    throw new Error(`${opts.historyFile} is the history of ${report.workflowId}, not of ${opts.workflowId}`);
  }
  return { report, files: await writeAuditFiles(report, opts.outDir) };
}
