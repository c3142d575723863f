import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { workflowBundle } from './harness.js';

// Histories of earlier runs, committed: the current workflow code must replay each of them
// without a non-determinism error (a reordered await needs `patched()`).
const dir = path.join('test', 'fixtures', 'histories');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];

describe('replay of committed workflow histories', () => {
  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(`replays ${file}`, async () => {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
    });
  }
});
