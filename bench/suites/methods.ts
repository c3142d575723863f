/** Stretch, snapshot-restore and make-mirror under the same client load, side by side. */
import { formatAll, formatSpread, markdownTable, seconds, spread } from '../lib/stats.js';
import type { MethodRun } from '../lib/method-run.js';
import { runMakeMirror } from '../lib/make-mirror.js';
import { runSnapshotRestore } from '../lib/snapshot-restore.js';
import { runStretch } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export async function methodsSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const runs: MethodRun[] = [];
  await withTemporalWorker(async (t) => {
    for (let rep = 0; rep < ctx.reps; rep++) {
      ctx.say(`repetition ${rep + 1}/${ctx.reps}`);
      const common = {
        say: ctx.say,
        opsPerSecond: ctx.opsPerSecond,
        etcd: ctx.etcd,
        steadyBeforeMs: ctx.steadyBeforeMs,
      };
      runs.push(await runStretch(t, { ...common, soak: ctx.soak }));
      runs.push(await runSnapshotRestore(common));
      runs.push(await runMakeMirror(common));
    }
  });
  return { runs, table: methodsTable(runs) };
}

export function methodsTable(runs: MethodRun[]): string {
  const methods = [...new Set(runs.map((r) => r.method))];
  return markdownTable(
    [
      'method',
      'runs (completed)',
      'failed ops',
      'indeterminate ops',
      'longest write gap (s)',
      'steady-state longest gap (s)',
      'longest gap / steady (per run)',
      'longest gap / steady as long (per run)',
      'acked writes lost',
      'stale reads',
      'revisions preserved',
      'leases preserved',
      'total duration (s)',
      'client ops/s',
    ],
    methods.map((m) => {
      const mine = runs.filter((r) => r.method === m);
      const of = (f: (r: MethodRun) => number, digits = 0): string =>
        formatSpread(spread(mine.map(f)), digits);
      const measured = mine.filter((r) => r.clients.writeGaps);
      return [
        m,
        `${mine.length} (${mine.filter((r) => r.outcome === 'completed').length})`,
        of((r) => r.clients.failedOps),
        of((r) => r.clients.indeterminateOps),
        of((r) => seconds(r.clients.writeGaps?.migrationMaxMs ?? r.clients.maxWriteGapMs), 2),
        formatSpread(spread(measured.map((r) => seconds(r.clients.writeGaps!.steadyMaxMs))), 2),
        formatSpread(spread(measured.map((r) => gapRatio(r.clients.writeGaps!))), 1),
        asLongRatio(measured),
        of((r) => r.clients.lostWrites),
        of((r) => r.clients.staleReads),
        formatAll(mine.map((r) => r.fidelity.revisionsPreserved)),
        formatAll(mine.map((r) => r.fidelity.leasesPreserved)),
        of((r) => seconds(r.durationMs), 1),
        of((r) => r.clients.opsPerSecond),
      ];
    }),
  );
}

/**
 * Each run's longest gap against the longest of its steady state's last stretch as long as the
 * migration (`gapRatio` of `steadyAsLong`), with how long that stretch was (shorter when the
 * steady state was); "-" for results recorded before it.
 */
export function asLongRatio(measured: MethodRun[]): string {
  const asLong = measured.flatMap(({ clients: { writeGaps: g } }) =>
    g?.steadyAsLong ? [{ migrationMaxMs: g.migrationMaxMs, steady: g.steadyAsLong }] : [],
  );
  if (asLong.length === 0) return '-';
  const ratios = asLong.map((g) =>
    gapRatio({ migrationMaxMs: g.migrationMaxMs, steadyMaxMs: g.steady.maxMs }),
  );
  const windows = asLong.map((g) => seconds(g.steady.windowMs));
  return `${formatSpread(spread(ratios), 1)} over ${formatSpread(spread(windows), 0)} s`;
}

/** How many times the steady state's longest gap the migration's was (goal 5 of issue #18). */
function gapRatio(g: { migrationMaxMs: number; steadyMaxMs: number }): number {
  return g.steadyMaxMs > 0 ? g.migrationMaxMs / g.steadyMaxMs : Infinity;
}
