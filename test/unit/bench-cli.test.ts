/**
 * `npm run bench` loads outside vitest: nothing it imports may pull in vitest (a test helper that
 * does fails at load with "Vitest failed to access its internal state").
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';

const bench = (args: string[]) => {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  return promisify(execFile)(tsx, ['bench/cli.ts', ...args], { cwd: REPO_ROOT, env });
};

describe('the bench command', () => {
  it('loads every suite and prints its help', async () => {
    const { stdout } = await bench(['--help']);
    expect(stdout).toContain('Usage: bench [options] <suite>');
    for (const suite of ['methods', 'data-size', 'members', 'overhead', 'fleet', 'wan'])
      expect(stdout).toContain(suite);
  }, 60_000);

  it('refuses an etcd version the sandbox does not run, before it needs the sandbox', async () => {
    const failure = await bench(['methods', '--etcd', '3.7']).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain('"3.7" is not an etcd version the sandbox runs (3.4, 3.5 or 3.6)');
  }, 60_000);
});
