/** `etcd-stretch audit --ui-url`: the report links the run in the Web UI at that address. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('etcd-stretch audit --ui-url', () => {
  it('puts a link to the run at that UI, in the namespace given, into the report', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_') && k !== 'ETCD_STRETCH_UI_URL'),
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(REPO_ROOT, 'client', 'etcd-stretch.mjs'),
        '-n',
        'migrations',
        '-o',
        'json',
        'audit',
        '--history',
        path.join(REPO_ROOT, 'test', 'fixtures', 'audit-histories', 'real-completed.json'),
        '--out',
        tmp,
        '--ui-url',
        'https://temporal.example.org/',
      ],
      { env: { ...env, HOME: tmp } },
    );
    const { json } = JSON.parse(stdout) as { json?: string; markdown: string };
    const report = JSON.parse(fs.readFileSync(json ?? '', 'utf8')) as { uiLink?: string };
    expect(report.uiLink).toMatch(
      /^https:\/\/temporal\.example\.org\/namespaces\/migrations\/workflows\/[^/]+\/[^/]+\/history$/,
    );
  }, 60_000);
});
