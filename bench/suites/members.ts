/** How a stretch migration's cost grows with the number of members (source and target of the same size). */
import { formatSpread, markdownTable, seconds, spread } from '../lib/stats.js';
import { msPerChange } from '../lib/breakdown.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export async function membersSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const counts = ctx.sizes ?? (ctx.quick ? [3] : [3, 5, 7]);
  const runs: StretchRun[] = [];
  await withTemporalWorker(async (t) => {
    for (const replicas of counts)
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.say(`${replicas} members, repetition ${rep + 1}/${ctx.reps}`);
        runs.push(
          await runStretch(t, {
            replicas,
            say: ctx.say,
            opsPerSecond: ctx.opsPerSecond,
            soak: ctx.soak,
            etcd: ctx.etcd,
          }),
        );
      }
  });
  return {
    runs,
    table: markdownTable(
      [
        'members',
        'completed',
        'membership changes',
        'total (s)',
        's per membership change',
        'failed ops',
        'acked writes lost',
      ],
      counts.map((n) => {
        const mine = runs.filter((r) => r.replicas === n);
        return [
          n,
          `${mine.filter((r) => r.outcome === 'completed').length}/${mine.length}`,
          formatSpread(spread(mine.map((r) => r.membershipChanges)), 0),
          formatSpread(spread(mine.map((r) => seconds(r.durationMs))), 1),
          formatSpread(spread(mine.map((r) => seconds(msPerChange(r)))), 2),
          formatSpread(spread(mine.map((r) => r.clients.failedOps)), 0),
          formatSpread(spread(mine.map((r) => r.clients.lostWrites)), 0),
        ];
      }),
    ),
    notes: [
      'Membership changes: add-learner, promote and remove-member steps. Seconds per change: the steps of the join, leader and retire phases (learner catch-up included, gates excluded) divided by the changes.',
      'The sandbox has 4 nodes per cluster: with 5 and 7 members the required pod anti-affinity is dropped from the source (and so the target) template.',
    ],
  };
}
