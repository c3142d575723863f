/**
 * Gauges of the migrations in progress, read from Temporal every 30 s (not emitted by the
 * workflows, which emit nothing while they replay and whose last value would stay behind in a
 * worker that no longer runs them): how many migrations are in each phase and state, and how long
 * each one waiting for approval has waited at its gate. Every worker exports them; aggregate
 * with `max without (instance)`.
 */
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { statusQuery } from '../workflows/messages.js';
import { PHASE_KEY, STATE_KEY, WAITING_GATE_KEY } from '../workflows/search-attributes.js';

export const MIGRATIONS_METRIC = 'etcd_stretch_migrations';
export const GATE_WAIT_METRIC = 'etcd_stretch_gate_wait_seconds';
const INTERVAL_MS = 30_000;

/** One running migration as the gauges see it. */
export interface RunningMigration {
  workflowId: string;
  phase: string;
  state: string;
  /** Waiting for approval: the gate and since when. */
  gate?: { name: string; since: string };
}

export interface GaugeSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The samples for `runs` at `now`; a label set sampled before (`previous`) and absent now is
 * sampled 0, so a migration that moved on or ended does not stay counted.
 */
export function gaugeSamples(
  runs: RunningMigration[],
  now: Date,
  previous: GaugeSample[] = [],
): GaugeSample[] {
  const counts = new Map<string, GaugeSample>();
  for (const r of runs) {
    const key = `${r.phase}\u0000${r.state}`;
    const s = counts.get(key) ?? {
      name: MIGRATIONS_METRIC,
      labels: { phase: r.phase, state: r.state },
      value: 0,
    };
    s.value++;
    counts.set(key, s);
  }
  const samples = [...counts.values()];
  for (const r of runs) {
    if (!r.gate) continue;
    const seconds = Math.max(0, (now.getTime() - Date.parse(r.gate.since)) / 1000);
    samples.push({
      name: GATE_WAIT_METRIC,
      labels: { workflow_id: r.workflowId, gate: r.gate.name },
      value: seconds,
    });
  }
  const id = (s: GaugeSample) => `${s.name}${JSON.stringify(s.labels)}`;
  const current = new Set(samples.map(id));
  for (const p of previous) if (!current.has(id(p))) samples.push({ ...p, value: 0 });
  return samples;
}

/** The running migrations of the namespace, from their search attributes (and status, at a gate). */
export async function runningMigrations(client: Client): Promise<RunningMigration[]> {
  const runs: RunningMigration[] = [];
  for await (const w of client.workflow.list({
    query: `WorkflowType='etcdMigration' AND ExecutionStatus='Running'`,
  })) {
    const attrs = w.typedSearchAttributes;
    const run: RunningMigration = {
      workflowId: w.workflowId,
      phase: attrs.get(PHASE_KEY) ?? 'unknown',
      state: attrs.get(STATE_KEY) ?? 'unknown',
    };
    if (attrs.get(WAITING_GATE_KEY) !== undefined) {
      // The wait's start is in the status only; a run whose query fails counts without it.
      const status = await client.workflow
        .getHandle(w.workflowId, w.runId)
        .query(statusQuery)
        .catch(() => undefined);
      const waiting = status?.waitingFor;
      if (waiting?.kind === 'approval') run.gate = { name: waiting.gate, since: waiting.since };
    }
    runs.push(run);
  }
  return runs;
}

/** Samples the gauges now and every 30 s until the returned stop function is called. */
export function exportMigrationGauges(
  client: Client,
  meter: MetricMeter,
  onError: (err: unknown) => void,
): () => void {
  const gauges = {
    [MIGRATIONS_METRIC]: meter.createGauge(
      MIGRATIONS_METRIC,
      'int',
      '1',
      'running migrations by phase and state',
    ),
    [GATE_WAIT_METRIC]: meter.createGauge(
      GATE_WAIT_METRIC,
      'float',
      's',
      'seconds a migration has waited for approval at its gate',
    ),
  };
  let previous: GaugeSample[] = [];
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const samples = gaugeSamples(await runningMigrations(client), new Date(), previous);
      for (const s of samples) gauges[s.name as keyof typeof gauges].set(s.value, s.labels);
      previous = samples.filter((s) => s.value !== 0 || s.name === MIGRATIONS_METRIC);
    } catch (err) {
      onError(err);
    } finally {
      busy = false;
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
