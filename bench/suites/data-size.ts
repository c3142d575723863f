/** How a stretch migration's cost grows with the source's backend size, with and without the shrink phase. */
import { formatSpread, markdownTable, mebibytes, seconds, spread } from '../lib/stats.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export async function dataSizeSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const sizesMB = ctx.sizes ?? (ctx.quick ? [5] : [10, 100, 500]);
  const runs: (StretchRun & { targetMB: number })[] = [];
  await withTemporalWorker(async (t) => {
    for (const mb of sizesMB)
      for (const shrink of [true, false])
        for (let rep = 0; rep < ctx.reps; rep++) {
          ctx.say(`${mb} MB, shrink ${shrink}, repetition ${rep + 1}/${ctx.reps}`);
          const r = await runStretch(t, {
            dataBytes: mb * 1024 * 1024,
            shrink,
            valueBytes: (ctx.valueKiB ?? 64) * 1024,
            say: ctx.say,
            opsPerSecond: ctx.opsPerSecond,
            snapshotCount: ctx.snapshotCount,
            soak: ctx.soak,
            etcd: ctx.etcd,
          });
          runs.push({ ...r, targetMB: mb });
        }
  });
  const rows = sizesMB.flatMap((mb) =>
    [true, false].map((shrink) => {
      const mine = runs.filter((r) => r.targetMB === mb && r.shrink === shrink);
      const joins = mine.flatMap((r) => r.joins);
      return [
        mb,
        shrink ? 'yes' : 'no',
        formatSpread(spread(mine.map((r) => mebibytes(r.dbSizeBefore))), 0),
        formatSpread(spread(mine.map((r) => mebibytes(r.dbSizeInUseBefore))), 1),
        formatSpread(
          spread(mine.flatMap((r) => (r.dbSizeAtSwitch ? [mebibytes(r.dbSizeAtSwitch.source)] : []))),
          0,
        ),
        formatSpread(spread(mine.flatMap((r) => (r.dbSizeAtSwitch?.newMembers ?? []).map(mebibytes))), 0),
        formatSpread(spread(joins.map((j) => seconds(j.ms))), 1),
        formatSpread(spread(joins.map((j) => mebibytes(j.rxBytesAtSwitch))), 1),
        formatSpread(
          spread(joins.flatMap((j) => (j.snapshotsReceived === undefined ? [] : [j.snapshotsReceived]))),
          0,
        ),
        formatSpread(spread(mine.map((r) => seconds(shrinkMs(r)))), 1),
        formatSpread(spread(mine.map((r) => seconds(r.durationMs))), 1),
        `${mine.filter((r) => r.outcome === 'completed').length}/${mine.length}`,
        formatSpread(spread(mine.map((r) => r.clients.failedOps)), 0),
        formatSpread(spread(mine.map((r) => r.clients.lostWrites)), 0),
      ];
    }),
  );
  return {
    runs,
    table: markdownTable(
      [
        'target MB',
        'shrink',
        'backend before (MiB)',
        'in use before (MiB)',
        'source backend at switch (MiB)',
        'new member backend at switch (MiB)',
        'join per member (s)',
        'MiB received per new member',
        'raft snapshots received per new member',
        'shrink phase (s)',
        'total (s)',
        'completed',
        'failed ops',
        'acked writes lost',
      ],
      rows,
    ),
    notes: [
      `Backend grown by overwriting 100 keys with ${ctx.valueKiB ?? 64} KiB values (many revisions of the same keys), then 500 seed keys and the fidelity keys; the article's \`--auto-compaction-retention=1000\` (revision mode) stays on.`,
      "Backend at switch: when the switch-clients gate is reached (after the shrink phase, if any, and the joins), one source member's backend and each new member's (pooled).",
      'Join per member: add-learner start to promote end, all new members pooled (the last one is promoted in retire, after the client switch).',
      ...(ctx.snapshotCount === undefined
        ? []
        : [
            `Source etcd with \`--snapshot-count=${ctx.snapshotCount}\` (etcd 3.4's default is 100000): a raft snapshot every ${ctx.snapshotCount} entries, after which the leader keeps only the last 5000 entries of its raft log, so a learner joining later gets a snapshot (the backend file) instead of the whole log.`,
          ]),
      'Raft snapshots received: etcd_network_snapshot_receive_success on each new member at the switch (0: it replayed the raft log).',
      "MiB received per new member: bytes received on the pod's network interface (peers, probes) from its start until the client switch, all new members pooled.",
    ],
  };
}

const shrinkMs = (r: StretchRun): number =>
  r.steps.filter((s) => s.phase === 'shrink').reduce((a, s) => a + s.ms, 0);
