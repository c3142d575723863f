/**
 * Orchestration overhead of a stretch migration: total time minus the waits no orchestrator can
 * avoid (learner catch-up, load-balancer provisioning, the configured soak), and where the rest goes.
 */
import fs from 'node:fs';
import { formatSpread, markdownTable, median, seconds, spread, type Spread } from '../lib/stats.js';
import { overheadOf } from '../lib/breakdown.js';
import { runStretch, type StretchRun } from '../lib/stretch-run.js';
import { withTemporalWorker } from '../lib/temporal-worker.js';
import type { SuiteContext, SuiteOutput } from './suite.js';

export async function overheadSuite(ctx: SuiteContext): Promise<SuiteOutput> {
  const runs: StretchRun[] = ctx.from ? stretchRunsIn(ctx.from) : [];
  if (ctx.from) ctx.say(`${runs.length} stretch runs from ${ctx.from}`);
  else
    await withTemporalWorker(async (t) => {
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.say(`repetition ${rep + 1}/${ctx.reps}`);
        runs.push(
          await runStretch(t, {
            say: ctx.say,
            opsPerSecond: ctx.opsPerSecond,
            soak: ctx.soak,
            etcd: ctx.etcd,
          }),
        );
      }
    });
  const breakdowns = runs.filter((r) => r.outcome === 'completed').map(overheadOf);
  const kinds = [...new Set(breakdowns.flatMap((b) => Object.keys(b.byKind)))];
  const rows = kinds
    .map((k) => ({ k, ms: breakdowns.map((b) => b.byKind[k] ?? 0) }))
    .sort((a, b) => median(b.ms) - median(a.ms))
    .map(({ k, ms }) => [
      k,
      formatSpread(spread(ms.map(seconds)), 2),
      `${((100 * median(ms)) / median(breakdowns.map((b) => b.totalMs))).toFixed(1)} %`,
    ]);
  const summary = {
    total: spread(breakdowns.map((b) => seconds(b.totalMs))),
    unavoidable: spread(breakdowns.map((b) => seconds(b.unavoidableMs))),
    safetyWindows: spread(breakdowns.map((b) => seconds(b.safetyWindowMs))),
    etcdRules: spread(breakdowns.map((b) => seconds(b.etcdRulesMs))),
    podStarts: spread(breakdowns.map((b) => seconds(b.podStartMs))),
    clientSwitch: spread(breakdowns.map((b) => seconds(b.clientSwitchMs))),
    overhead: spread(breakdowns.map((b) => seconds(b.overheadMs))),
    overheadShare: spread(breakdowns.map((b) => b.overheadMs / b.totalMs)),
  };
  const row = (label: string, part: Spread) => [
    label,
    formatSpread(part, 1),
    pct(part.median, summary.total.median),
  ];
  const head = markdownTable(
    ['', 'seconds', 'share of total'],
    [
      ['total', formatSpread(summary.total, 1), '100 %'],
      row('unavoidable waits (catch-up, load balancers, soak)', summary.unavoidable),
      row('safety windows (peer-link check, 6 s per promote)', summary.safetyWindows),
      row("etcd's rules (membership changes held back, as their results report)", summary.etcdRules),
      row('pod starts (scale-target)', summary.podStarts),
      row(
        'client switch (the benchmark moves its load client at the switch-clients gate)',
        summary.clientSwitch,
      ),
      [
        'orchestration overhead (the rest)',
        formatSpread(summary.overhead, 1),
        `${(100 * summary.overheadShare.median).toFixed(1)} %`,
      ],
    ],
  );
  const timed = runs.filter((r) => r.outcome === 'completed' && r.temporal).map((r) => r.temporal!);
  const temporal = timed.length
    ? {
        workflowTasks: spread(timed.map((x) => x.workflowTasks)),
        workflowTaskSeconds: spread(timed.map((x) => seconds(x.workflowTaskWaitMs + x.workflowTaskRunMs))),
        activities: spread(timed.map((x) => x.activities)),
        activityDispatchSeconds: spread(timed.map((x) => seconds(x.activityDispatchMs))),
      }
    : undefined;
  const temporalLine = temporal
    ? `\n\nIn Temporal (the histories, median): ${temporal.workflowTasks.median} workflow tasks, ` +
      `${formatSpread(temporal.workflowTaskSeconds, 2)} s from scheduled to completed (the workflow's ` +
      `turns between steps, inside the steps' times); ${temporal.activities.median} activities, ` +
      `${formatSpread(temporal.activityDispatchSeconds, 2)} s from scheduled to started.`
    : '';
  return {
    runs: runs.map((r) => ({ ...r, overhead: r.outcome === 'completed' ? overheadOf(r) : undefined })),
    summary: { ...summary, ...(temporal ? { temporal } : {}) },
    table: `${head}\n\nWhere the overhead goes (median over runs):\n\n${markdownTable(['step kind', 'seconds', 'share of total'], rows)}${temporalLine}`,
    notes: [
      ...(ctx.from ? [`Analysis of the stretch runs in ${ctx.from} (no new runs).`] : []),
      "Steps as the workflow's status reports them (startedAt/endedAt); steps that ran at the same time (each cluster's part of expose, dns and cleanup) share the time they overlapped; \"between steps\" is the workflow's duration minus the time its steps covered.",
      "Safety windows: each promote's first peerLinkWindowMs of the run (6 s while the peer-link check waited a fixed window; 0 since the voter's prober record proves the link, activities/etcd/peer-link.ts); runs recorded before that check have none.",
      'etcd\'s rules: what each add-learner, promote and remove-member reports it waited for etcd (its "unhealthy cluster" refusals until every voter has been connected 5 s; before a promote, the leader\'s first prober record of the learner); runs recorded before that report have none. Pod starts: the scale-target steps.',
      'The switch-clients gate is manual in these runs and approved by the benchmark right after it moves the load client: its wait is the client switch row, not overhead (every other gate is on auto). Runs recorded before 2026-12-07i also hold the benchmark noticing the gate (polled every 250 ms, now 100 ms) and its reads of the new members.',
    ],
  };
}

/** The stretch runs of an earlier result file (e.g. the methods suite's). */
function stretchRunsIn(file: string): StretchRun[] {
  const result = JSON.parse(fs.readFileSync(file, 'utf8')) as { runs?: unknown };
  if (!Array.isArray(result.runs)) throw new Error(`${file} holds no runs`);
  return (result.runs as { method?: string }[]).filter((r): r is StretchRun => r.method === 'stretch');
}

const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)} %`;
