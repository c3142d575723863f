/**
 * The cost of the stretch over a WAN: the same 3 -> 3 stretch with the link between the clusters
 * at each round trip (the sandbox's link shaping on every cross-cluster connection, which all go
 * through the per-member load balancers): total time, the time the quorum needed both clusters,
 * and the clients' write latency before, while stretched and after.
 */
import { KIND_TOPOLOGY, readTopology, setTopology } from '../../sandbox/topology.js';
import { formatSpread, markdownTable, seconds, spread } from '../lib/stats.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { LatencyPercentiles } from '../lib/write-gaps.js';
import { asLongRatio } from './methods.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export async function wanSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const rtts = ctx.rttsMs ?? (ctx.quick ? [20] : [0, 20, 80]);
  const runs: (StretchRun & { rttMs: number })[] = [];
  const before = readTopology();
  try {
    await withTemporalWorker(async (t) => {
      for (const rttMs of rtts)
        for (let rep = 0; rep < ctx.reps; rep++) {
          ctx.say(`link round trip ${rttMs} ms, repetition ${rep + 1}/${ctx.reps}`);
          setTopology({ ...KIND_TOPOLOGY, link: { ...KIND_TOPOLOGY.link, rttMs } });
          const r = await runStretch(t, {
            say: ctx.say,
            opsPerSecond: ctx.opsPerSecond,
            soak: ctx.soak,
            etcd: ctx.etcd,
            steadyBeforeMs: ctx.steadyBeforeMs,
          });
          runs.push({ ...r, rttMs });
        }
    });
  } finally {
    setTopology(before);
  }
  const ms = (pick: (r: StretchRun) => number | undefined, mine: StretchRun[], digits = 0) =>
    formatSpread(spread(mine.flatMap((r) => pick(r) ?? [])), digits);
  const pair = (pick: (r: StretchRun) => LatencyPercentiles | undefined, mine: StretchRun[]): string =>
    `${ms((r) => pick(r)?.p50Ms, mine)} / ${ms((r) => pick(r)?.p99Ms, mine)}`;
  return {
    runs,
    table: markdownTable(
      [
        'link RTT (ms)',
        'completed',
        'total (s)',
        'quorum needs both clusters (s)',
        "leader's cluster short of a majority (s)",
        'write p50 / p99 before (ms)',
        'while both are needed (ms)',
        "while the leader's cluster is short (ms)",
        'during the migration (ms)',
        'after (ms)',
        'longest write gap (s)',
        'steady-state longest gap (s)',
        'longest gap / steady as long (per run)',
        'failed ops',
      ],
      rtts.map((rtt) => {
        const mine = runs.filter((r) => r.rttMs === rtt);
        return [
          rtt,
          `${mine.filter((r) => r.outcome === 'completed').length}/${mine.length}`,
          formatSpread(spread(mine.map((r) => seconds(r.durationMs))), 1),
          ms((r) => r.bothSides && seconds(r.bothSides.ms), mine, 1),
          ms((r) => r.crossing && seconds(r.crossing.ms), mine, 1),
          pair((r) => r.clients.writeGaps?.latency.steady, mine),
          pair((r) => r.bothSides?.latency, mine),
          pair((r) => r.crossing?.latency, mine),
          pair((r) => r.clients.writeGaps?.latency.migration, mine),
          pair((r) => r.clients.writeGaps?.latency.after, mine),
          ms((r) => r.clients.writeGaps && seconds(r.clients.writeGaps.migrationMaxMs), mine, 2),
          ms((r) => r.clients.writeGaps && seconds(r.clients.writeGaps.steadyMaxMs), mine, 2),
          asLongRatio(mine.filter((r) => r.clients.writeGaps)),
          formatSpread(spread(mine.map((r) => r.clients.failedOps)), 0),
        ];
      }),
    ),
    notes: [
      'Each round trip is added to every connection between the clusters (half each way); inside a cluster there is none. The clients write to the source members before the switch and to the new members after it.',
      'While neither cluster holds a majority of the voters alone, a write commits only after a member of the other cluster acknowledged it: at least one cross-cluster round trip.',
      "The leader's cluster is short of a majority from the leader move (to the target) until the first removal: the both-sides state and the states around it (3 + 2 with the leader on the target). Its writes wait for the other cluster too, and clients still on the source cross once more to reach the leader. The switch-clients gate falls inside it (approved at once here).",
    ],
  };
}
