import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { workflowBundle } from './harness.js';

// Histories of earlier runs, committed: the current workflow code must replay each of them
// without a non-determinism error (a reordered await needs `patched()`). `histories/` holds runs
// with fake activities, `audit-histories/` real runs in the sandbox (also the audit's fixtures).
const dirs = [path.join('test', 'fixtures', 'histories'), path.join('test', 'fixtures', 'audit-histories')];
const files = dirs.flatMap((dir) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(dir, f))
    : [],
);

describe('replay of committed workflow histories', () => {
  it('has histories of fake and of real sandbox runs to replay', () => {
    expect(files.some((f) => f.includes('audit-histories'))).toBe(true);
    expect(files.some((f) => f.includes(`histories${path.sep}fake`))).toBe(true);
  });
  for (const file of files) {
    it(`replays ${file}`, async () => {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
    });
  }
});
