/** Several small migrations at once on one worker: throughput, and whether any run slows the others. */
import { formatSpread, markdownTable, seconds, spread } from '../lib/stats.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export const FLEET_OPS_PER_SECOND = 50;

export async function fleetSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const fleetSizes = ctx.sizes ?? (ctx.quick ? [2] : [1, 3, 5]);
  const batches: { atOnce: number; wallMs: number; runs: StretchRun[] }[] = [];
  await withTemporalWorker(async (t) => {
    for (const atOnce of fleetSizes)
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.say(`${atOnce} migrations at once, repetition ${rep + 1}/${ctx.reps}`);
        const started = Date.now();
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
        batches.push({ atOnce, wallMs: Date.now() - started, runs });
      }
  });
  const solo = batches.filter((b) => b.atOnce === 1).flatMap((b) => b.runs.map((r) => r.durationMs));
  return {
    runs: batches,
    table: markdownTable(
      [
        'migrations at once',
        'completed',
        'wall time incl. setup (s)',
        'migrations per hour',
        'workflow duration per run (s)',
        'slowest / fastest in batch',
        'failed ops (sum)',
        'acked writes lost (sum)',
      ],
      fleetSizes.map((n) => {
        const mine = batches.filter((b) => b.atOnce === n);
        const runs = mine.flatMap((b) => b.runs);
        return [
          n,
          `${runs.filter((r) => r.outcome === 'completed').length}/${runs.length}`,
          formatSpread(spread(mine.map((b) => seconds(b.wallMs))), 1),
          formatSpread(spread(mine.map((b) => (3600_000 * n) / b.wallMs)), 0),
          formatSpread(spread(runs.map((r) => seconds(r.durationMs))), 1),
          formatSpread(
            spread(
              mine.map(
                (b) =>
                  Math.max(...b.runs.map((r) => r.durationMs)) / Math.min(...b.runs.map((r) => r.durationMs)),
              ),
            ),
            2,
          ),
          runs.reduce((a, r) => a + r.clients.failedOps, 0),
          runs.reduce((a, r) => a + r.clients.lostWrites, 0),
        ];
      }),
    ),
    summary: {
      soloMedianS: solo.length ? seconds(solo.sort((a, b) => a - b)[Math.floor(solo.length / 2)]!) : null,
    },
    notes: [
      `Each migration: its own 3-member article etcd with 100 keys and its own load client at ${FLEET_OPS_PER_SECOND} ops/s (lower than the methods suite so that several fit on 2 cores), one shared worker (in this process) and Temporal dev server.`,
      'Wall time counts from the batch start (deploying the source clusters included) to the last run cleaned up; migrations per hour = runs / wall time.',
    ],
  };
}
