/**
 * `etcd-stretch` as installed: the package's `bin` linked by npm into a prefix of its own and run
 * from elsewhere; its version, help on every command, and the exit code of wrong usage.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../sandbox/config.js';
import { EXIT } from '../../client/exit-codes.js';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-bin-'));
const installed = path.join(prefix, 'bin', 'etcd-stretch');

beforeAll(async () => {
  // `npm link`: a global install of this checkout, into a prefix of the test's own.
  await promisify(execFile)('npm', ['link', '--offline', '--no-audit', '--no-fund'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NPM_CONFIG_PREFIX: prefix },
  });
}, 120_000);
afterAll(() => fs.rmSync(prefix, { recursive: true, force: true }));

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // From a directory outside the checkout, as a user's shell would.
  const child = spawn(installed, args, { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the etcd-stretch command', () => {
  it('is the package bin, a node script', () => {
    expect(pkg.bin['etcd-stretch']).toBe('client/etcd-stretch.mjs');
    const entry = path.join(REPO_ROOT, pkg.bin['etcd-stretch']!);
    expect(fs.readFileSync(entry, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(fs.statSync(entry).mode & 0o111).not.toBe(0);
    expect(fs.realpathSync(installed)).toBe(entry);
  });

  it("--version prints package.json's version", async () => {
    const r = await run('--version');
    expect(r).toMatchObject({ code: EXIT.ok, stdout: `${pkg.version}\n` });
  }, 120_000);

  it('every command has help with a description; wrong usage exits 2', async () => {
    const top = await run('--help');
    expect(top.code).toBe(EXIT.ok);
    const commands = [...top.stdout.split('Commands:')[1]!.matchAll(/^ {2}([a-z-]+) /gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    expect(commands).toEqual(
      expect.arrayContaining(['plan', 'start', 'list', 'status', 'watch', 'approve', 'abort', 'audit']),
    );
    const helps = await Promise.all(commands.map((c) => run(c, '--help')));
    for (const [i, help] of helps.entries()) {
      const command = commands[i]!;
      expect(help.code, command).toBe(EXIT.ok);
      const [usage, , description] = help.stdout.split('\n');
      expect(usage, command).toMatch(new RegExp(`^Usage: etcd-stretch ${command} `));
      expect(description?.trim().length, `${command} has a description`).toBeGreaterThan(10);
      // The connection and output options show on every command's help.
      expect(help.stdout, command).toContain('Global Options:');
      expect(help.stdout, command).toContain('-o, --output <format>');
    }
    const unknown = await run('no-such-command');
    expect(unknown.code).toBe(EXIT.usage);
    const missing = await run('watch');
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain("missing required argument 'workflowId'");
  }, 180_000);
});
