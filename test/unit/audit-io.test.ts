/**
 * The audit's I/O: reading an exported history, fetching one through a client (a fake here:
 * the live path was run by hand against a dev server, see README), writing the two reports,
 * and the `audit` CLI subcommand end to end on a committed history.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { auditFileBase, readHistoryFile, runAudit, type HistorySource } from '../../client/audit/index.js';
import { payloadsOf } from '../../client/audit/decode-payloads.js';
import { auditMarkdown } from '../../client/audit/render-markdown.js';
import { AesGcmPayloadCodec } from '../../worker/payload-codec.js';

const execFileAsync = promisify(execFile);
const ABORTED = path.join('test', 'fixtures', 'histories', 'fake-activities-aborted-at-join.json');
const ABORTED_ID = 'migration-5e1482f9-96a2-48e3-ad76-27a20499d43f';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-io-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('audit I/O', () => {
  it('writes audit-<workflowId>.md, .html and .json from an exported history', async () => {
    const out = path.join(tmp, 'from-file');
    const { report, files } = await runAudit({
      historyFile: ABORTED,
      outDir: out,
      ui: { url: 'http://127.0.0.1:8233/', namespace: 'default' },
    });
    expect(files).toEqual({
      markdown: path.join(out, `audit-${ABORTED_ID}.md`),
      html: path.join(out, `audit-${ABORTED_ID}.html`),
      json: path.join(out, `audit-${ABORTED_ID}.json`),
    });
    // The JSON output is the report itself.
    expect(JSON.parse(fs.readFileSync(files.json, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    // The link to the run, the effective spec (defaults filled in), the timeline picture and
    // what the approver names are worth.
    expect(report.uiLink).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(ABORTED_ID)}/${report.runId}/history`,
    );
    expect(report.effectiveSpec).toMatchObject({ deadlines: { step: expect.any(String) as string } });
    const mdText = fs.readFileSync(files.markdown, 'utf8');
    expect(mdText).toContain(report.uiLink!);
    expect(mdText).toMatch(/## Effective spec\n\n.*\n\n~~~text\nversion: 1\n/);
    expect(mdText).toMatch(/## Timeline picture\n\n~~~text\n.*\nphase preflight +\| *█+ *\| \d+ ms\n/);
    expect(mdText).toContain('Approver names are not verified');
    expect(report.outcome.status).toBe('aborted');
    const md = fs.readFileSync(files.markdown, 'utf8');
    expect(md.startsWith(`# Migration audit: ${ABORTED_ID}\n`)).toBe(true);
    expect(md).toContain('aborted by dave: test abort at join');
    const html = fs.readFileSync(files.html, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).toContain('<pre>version: 1\n');
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
  });

  it('fetches the history by workflow ID through the client, and closes the connection', async () => {
    const history = await readHistoryFile(ABORTED);
    const calls: string[] = [];
    const client: HistorySource = {
      workflow: {
        getHandle: (id, runId) => {
          calls.push(`getHandle ${id} ${runId ?? '-'}`);
          return { fetchHistory: () => Promise.resolve(history) };
        },
      },
    };
    const { report } = await runAudit({
      workflowId: ABORTED_ID,
      runId: 'r1',
      outDir: path.join(tmp, 'fetched'),
      connect: () => Promise.resolve({ client, close: () => Promise.resolve(void calls.push('close')) }),
    });
    expect(calls).toEqual([`getHandle ${ABORTED_ID} r1`, 'close']);
    expect(report.runId).toBe('r1');
    expect(fs.existsSync(path.join(tmp, 'fetched', `audit-${ABORTED_ID}.html`))).toBe(true);
  });

  it('refuses a file that is not an exported history, or the history of another workflow', async () => {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"workflowId": "x"}');
    await expect(readHistoryFile(bad)).rejects.toThrow(/no "events" array/);
    await expect(runAudit({ workflowId: 'other', historyFile: ABORTED, outDir: tmp })).rejects.toThrow(
      `is the history of ${ABORTED_ID}, not of other`,
    );
    await expect(runAudit({ outDir: tmp })).rejects.toThrow(/give a workflow ID/);
  });

  it('names the report after the file when the history does not name its workflow', async () => {
    const json = JSON.parse(fs.readFileSync(ABORTED, 'utf8')) as {
      events: { workflowExecutionStartedEventAttributes?: { workflowId?: string } }[];
    };
    delete json.events[0]!.workflowExecutionStartedEventAttributes!.workflowId;
    const file = path.join(tmp, 'old-server-export.json');
    fs.writeFileSync(file, JSON.stringify(json));
    const { report, files } = await runAudit({ historyFile: file, outDir: path.join(tmp, 'old') });
    expect(report.workflowId).toBe('old-server-export');
    expect(files.markdown).toBe(path.join(tmp, 'old', 'audit-old-server-export.md'));
  });

  it("reads a history whose payloads the worker encrypted, with the worker's key; refuses without it", async () => {
    const plain = await runAudit({ historyFile: ABORTED, outDir: path.join(tmp, 'plain') });
    // The same history as a worker with a payload key writes it: every payload sealed.
    const codec = new AesGcmPayloadCodec(Buffer.alloc(32, 7), 'audit-test');
    const history = await readHistoryFile(ABORTED);
    const payloads = payloadsOf(history);
    expect(payloads.length).toBeGreaterThan(20);
    const sealed = await codec.encode(payloads);
    payloads.forEach((p, i) => Object.assign(p, sealed[i]));
    const file = path.join(tmp, 'encrypted.json');
    fs.writeFileSync(file, historyToJSON(history));
    expect(fs.readFileSync(file, 'utf8')).not.toContain('dave');

    const decoded = await runAudit({ historyFile: file, outDir: path.join(tmp, 'decoded'), codec });
    expect(auditMarkdown(decoded.report)).toBe(auditMarkdown(plain.report));
    await expect(runAudit({ historyFile: file, outDir: tmp })).rejects.toThrow(
      /encrypted payloads: set ETCD_STRETCH_PAYLOAD_KEY or ETCD_STRETCH_PAYLOAD_KEY_FILE/,
    );
    const otherKey = new AesGcmPayloadCodec(Buffer.alloc(32, 8), 'audit-test');
    await expect(runAudit({ historyFile: file, outDir: tmp, codec: otherKey })).rejects.toThrow(
      /does not decrypt with key "audit-test"/,
    );
  });

  it('makes a safe file name of any workflow ID', () => {
    expect(auditFileBase('a/b c:d')).toBe('audit-a_b_c_d');
    expect(auditFileBase('etcd-migration-x_1.2')).toBe('audit-etcd-migration-x_1.2');
  });

  it('etcd-stretch audit --history <file> --out <dir>', async () => {
    const out = path.join(tmp, 'cli');
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'client/cli.ts', 'audit', '--history', ABORTED, '--out', out],
      { timeout: 60_000 },
    );
    expect(stdout).toContain(`audit of ${ABORTED_ID}: aborted`);
    const md = fs.readFileSync(path.join(out, `audit-${ABORTED_ID}.md`), 'utf8');
    expect(md).toContain('## Rollback and compensations');
    expect(fs.readFileSync(path.join(out, `audit-${ABORTED_ID}.html`), 'utf8')).toContain(
      'aborted by dave: test abort at join',
    );
  }, 60_000);
});
