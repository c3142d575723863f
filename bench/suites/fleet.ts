/**
 * Several small migrations at once on one worker: throughput, how much each run slows against
 * one alone, and where the CPU went (which resource limits the fleet).
 */
import { CPU_GROUPS, startCpuSampler, type CpuUsage } from '../lib/cpu-usage.js';
import { formatSpread, markdownTable, median, seconds, spread } from '../lib/stats.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export const FLEET_OPS_PER_SECOND = 50;

interface Batch {
  atOnce: number;
  wallMs: number;
  runs: StretchRun[];
  cpu: CpuUsage;
}

export async function fleetSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const fleetSizes = ctx.sizes ?? (ctx.quick ? [1, 2] : [1, 10]);
  const batches: Batch[] = [];
  await withTemporalWorker(async (t) => {
    for (let rep = 0; rep < ctx.reps; rep++)
      for (const atOnce of fleetSizes) {
        ctx.say(`${atOnce} migrations at once, repetition ${rep + 1}/${ctx.reps}`);
        const started = Date.now();
        const sampler = await startCpuSampler();
        const runs = await Promise.all(
          Array.from({ length: atOnce }, () =>
            runStretch(t, {
              keys: 100,
              opsPerSecond: FLEET_OPS_PER_SECOND,
              say: ctx.say,
              soak: ctx.soak,
              etcd: ctx.etcd,
            }),
          ),
        );
        batches.push({ atOnce, wallMs: Date.now() - started, runs, cpu: await sampler.stop() });
      }
  });
  return fleetOutput([...new Set(fleetSizes)], batches);
}

const durations = (batches: Batch[]) =>
  batches.flatMap((b) => b.runs.filter((r) => r.outcome === 'completed').map((r) => r.durationMs));

/** The tables from the batches (pure): throughput and slowdown, then CPU by process group. */
export function fleetOutput(sizes: number[], batches: Batch[]): SuiteOutput {
  const of = (n: number) => batches.filter((b) => b.atOnce === n);
  const alone = median(durations(of(1)));
  const slowdowns = sizes.map((n) => median(durations(of(n))) / alone);
  const cpuRow = (n: number) => {
    const mine = of(n);
    const wall = mine.reduce((a, b) => a + b.cpu.wallMs, 0) / 1000;
    const cores = (cpuSeconds: number) => (cpuSeconds / wall).toFixed(2);
    return [
      n,
      ...CPU_GROUPS.map((g) => cores(mine.reduce((a, b) => a + b.cpu.cpuSeconds[g], 0))),
      `${(mine.reduce((a, b) => a + b.cpu.machineBusyCores * b.cpu.wallMs, 0) / 1000 / wall).toFixed(2)} of ${mine[0]?.cpu.cores ?? '?'}`,
    ];
  };
  const throughput = markdownTable(
    [
      'migrations at once',
      'completed',
      'wall time incl. setup (s)',
      'migrations per hour',
      'workflow duration per run (s)',
      'median against one alone',
      'failed ops (sum)',
      'acked writes lost (sum)',
    ],
    sizes.map((n, i) => {
      const mine = of(n);
      const runs = mine.flatMap((b) => b.runs);
      return [
        n,
        `${runs.filter((r) => r.outcome === 'completed').length}/${runs.length}`,
        formatSpread(spread(mine.map((b) => seconds(b.wallMs))), 1),
        formatSpread(spread(mine.map((b) => (3600_000 * n) / b.wallMs)), 0),
        formatSpread(spread(runs.map((r) => seconds(r.durationMs))), 1),
        Number.isNaN(slowdowns[i]!) ? 'n/a' : `${slowdowns[i]!.toFixed(2)}x`,
        runs.reduce((a, r) => a + r.clients.failedOps, 0),
        runs.reduce((a, r) => a + r.clients.lostWrites, 0),
      ];
    }),
  );
  const cpu = markdownTable(
    ['migrations at once', ...CPU_GROUPS.map((g) => `${g} (cores)`), 'machine busy (cores)'],
    sizes.map(cpuRow),
  );
  return {
    runs: batches,
    table: `${throughput}\n\nCPU by process group, averaged over the batches' wall time:\n\n${cpu}`,
    summary: {
      soloMedianS: Number.isNaN(alone) ? null : seconds(alone),
      slowdownAgainstAlone: Object.fromEntries(sizes.map((n, i) => [n, slowdowns[i]])),
    },
    notes: [
      `Each migration: its own 3-member article etcd with 100 keys and its own load client at ${FLEET_OPS_PER_SECOND} ops/s (lower than the methods suite so that several fit on 2 cores), one shared worker (in this process) and Temporal dev server.`,
      'Wall time counts from the batch start (deploying the source clusters included) to the last run cleaned up; migrations per hour = runs / wall time.',
      "Median against one alone: the batch's median workflow duration over the median of the runs made alone in the same suite run.",
      'CPU: utime + stime from /proc, sampled every second (a process that exits loses at most its last second). The bench process holds the worker, every load client and the checks; "other" is everything else on the machine.',
    ],
  };
}
