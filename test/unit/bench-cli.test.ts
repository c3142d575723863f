/**
 * `npm run bench` loads outside vitest: nothing it imports may pull in vitest (a test helper that
 * does fails at load with "Vitest failed to access its internal state").
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';

describe('the bench command', () => {
  it('loads every suite and prints its help', async () => {
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    const { stdout } = await promisify(execFile)(tsx, ['bench/cli.ts', '--help'], { cwd: REPO_ROOT, env });
    expect(stdout).toContain('Usage: bench [options] <suite>');
    for (const suite of ['methods', 'data-size', 'members', 'overhead', 'fleet'])
      expect(stdout).toContain(suite);
  }, 60_000);
});
