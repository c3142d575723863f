/**
 * Metrics the workflow records through the SDK's workflow metric meter: it emits nothing while
 * a workflow task is replayed, so a run's phases are counted once however often it replays.
 */
import { metricMeter } from '@temporalio/workflow';
import type { PhaseTiming } from './status.js';

export const PHASE_DURATION_METRIC = 'etcd_stretch_phase_duration';
export const RUNS_FINISHED_METRIC = 'etcd_stretch_migrations_finished';

// Created on use: the meter belongs to the running workflow, not to the module.
export function recordPhaseEnded(phase: PhaseTiming): void {
  if (!phase.endedAt) return;
  const seconds = (Date.parse(phase.endedAt) - Date.parse(phase.startedAt)) / 1000;
  metricMeter
    .createHistogram(PHASE_DURATION_METRIC, 'float', 's', 'how long each migration phase took, seconds')
    .record(Math.max(0, seconds), { phase: phase.name });
}

export function recordRunFinished(outcome: string): void {
  metricMeter
    .createCounter(RUNS_FINISHED_METRIC, '1', 'migration runs that ended, by outcome')
    .add(1, { outcome });
}
