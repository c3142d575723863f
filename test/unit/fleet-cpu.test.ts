import { describe, expect, it } from 'vitest';
import { cpuGroupOf, ticksOf, type CpuUsage } from '../../bench/lib/cpu-usage.js';
import type { StretchRun } from '../../bench/lib/stretch-run.js';
import { fleetOutput } from '../../bench/suites/fleet.js';

describe('where the CPU went', () => {
  const p = (pid: number, comm: string, args: string) => ({ pid, comm, args });

  it('groups processes by name and command line', () => {
    expect(cpuGroupOf(p(10, 'etcd', 'etcd --name=etcd-x-0 --data-dir=/var/lib/etcd'), 1)).toBe(
      'etcd members',
    );
    expect(cpuGroupOf(p(11, 'etcd-3.6', '/t/etcd-3.6 --name=source-control-plane --data-dir=/x'), 1)).toBe(
      'control planes',
    );
    expect(cpuGroupOf(p(12, 'kube-apiserver', '/t/kube-apiserver --secure-port=16443'), 1)).toBe(
      'control planes',
    );
    expect(cpuGroupOf(p(13, 'MainThread', 'node --import tsx /w/sandbox/node-agent/main.ts source'), 1)).toBe(
      'node agents',
    );
    expect(cpuGroupOf(p(14, 'temporal', 'temporal server start-dev'), 1)).toBe('temporal server');
    expect(cpuGroupOf(p(1, 'MainThread', 'node bench/cli.ts fleet'), 1)).toBe(
      'bench process (worker, load clients)',
    );
    expect(cpuGroupOf(p(15, 'bash', 'bash'), 1)).toBe('other');
  });

  it('reads utime + stime after a name with spaces and parentheses', () => {
    const line = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 123 45 0 0 20 0 1 0 99 0 0';
    expect(ticksOf(line)).toBe(168);
  });
});

describe('fleet tables', () => {
  const run = (durationMs: number): StretchRun =>
    ({ outcome: 'completed', durationMs, clients: { failedOps: 0, lostWrites: 0 } }) as StretchRun;
  const cpu = (wallMs: number, etcd: number, bench: number): CpuUsage => ({
    wallMs,
    cpuSeconds: {
      'etcd members': etcd,
      'control planes': 0,
      'node agents': 0,
      'temporal server': 0,
      'bench process (worker, load clients)': bench,
      other: 0,
    },
    machineBusyCores: 1.5,
    cores: 2,
  });

  it('gives each size its median against the runs alone, and its CPU in cores', () => {
    const out = fleetOutput(
      [1, 4],
      [
        { atOnce: 1, wallMs: 60_000, runs: [run(40_000)], cpu: cpu(60_000, 30, 12) },
        { atOnce: 1, wallMs: 60_000, runs: [run(50_000)], cpu: cpu(60_000, 30, 12) },
        {
          atOnce: 4,
          wallMs: 100_000,
          runs: [run(60_000), run(70_000), run(80_000), run(90_000)],
          cpu: cpu(100_000, 150, 50),
        },
      ],
    );
    expect(out.summary).toEqual({ soloMedianS: 45, slowdownAgainstAlone: { 1: 1, 4: 75 / 45 } });
    const rows = out.table.split('\n');
    expect(rows.find((r) => r.startsWith('| 4 ') && r.includes('x'))).toContain('1.67x');
    // 150 etcd CPU seconds over 100 s: 1.50 cores; 50 s for the bench process: 0.50.
    expect(rows.filter((r) => r.startsWith('| 4 ')).at(-1)).toMatch(
      /\| 1\.50 +\| 0\.00 +\| 0\.00 +\| 0\.00 +\| 0\.50 +\| 0\.00 +\| 1\.50 of 2 +\|/,
    );
  });
});
