/**
 * The worker's Prometheus metrics: the Temporal runtime's own (task latencies, pollers, slots,
 * ...) plus etcd-stretch's. Phase durations and finished runs come from the workflow
 * (workflows/migration-metrics.ts); membership changes and guard refusals from the activity
 * interceptor below, which sees every activity's result or failure.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { PHASE_DURATION_METRIC } from '../workflows/migration-metrics.js';

export const MEMBERSHIP_CHANGES_METRIC = 'etcd_stretch_membership_changes';
export const GUARD_REFUSALS_METRIC = 'etcd_stretch_guard_refusals';

/** Default: loopback only; set ETCD_STRETCH_METRICS_ADDRESS=0.0.0.0:9464 in a container, `off` to disable. */
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

export function metricsAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.ETCD_STRETCH_METRICS_ADDRESS ?? DEFAULT_METRICS_ADDRESS;
  if (value === '' || value === 'off') return undefined;
  if (!/^[^\s:]+:\d{1,5}$/.test(value) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(value))
    throw new Error(`ETCD_STRETCH_METRICS_ADDRESS=${value}: expected host:port (e.g. 0.0.0.0:9464) or "off"`);
  return value;
}

/** Runtime telemetry options: Prometheus at `bindAddress`, phase durations in seconds-sized buckets. */
export function prometheusTelemetry(bindAddress: string) {
  return {
    metrics: {
      prometheus: {
        bindAddress,
        histogramBucketOverrides: {
          [PHASE_DURATION_METRIC]: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
        },
      },
    },
  };
}

/** Activities that change the etcd member list, and the change they make. */
const MEMBERSHIP_CHANGE: Record<string, string> = {
  addLearner: 'add-learner',
  promote: 'promote',
  removeMember: 'remove',
  removeLearner: 'remove-learner',
};

function changedSomething(result: unknown): boolean {
  // alreadyDone: a re-run found the change made, or an undo found nothing to remove.
  return !(
    typeof result === 'object' &&
    result !== null &&
    (result as { alreadyDone?: boolean }).alreadyDone
  );
}

function guardVerdictOf(err: unknown): { summary?: string } | undefined {
  if (!(err instanceof ApplicationFailure)) return undefined;
  const details = err.details?.[0] as { verdict?: { allowed?: boolean; summary?: string } } | undefined;
  return details?.verdict && details.verdict.allowed === false ? details.verdict : undefined;
}

/** Counts membership changes and the safety guard's refusals, per activity. */
export const migrationMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => {
  const activityType = ctx.info.activityType;
  const changes = ctx.metricMeter.createCounter(
    MEMBERSHIP_CHANGES_METRIC,
    '1',
    'etcd membership changes made (add learner, promote, remove)',
  );
  const refusals = ctx.metricMeter.createCounter(
    GUARD_REFUSALS_METRIC,
    '1',
    'changes the safety guard refused before touching the cluster',
  );
  return {
    inbound: {
      async execute(input, next) {
        try {
          const result = await next(input);
          const change = MEMBERSHIP_CHANGE[activityType];
          if (change && changedSomething(result)) changes.add(1, { change });
          return result;
        } catch (err) {
          if (guardVerdictOf(err)) refusals.add(1, { reason: (err as ApplicationFailure).type ?? 'unknown' });
          throw err;
        }
      },
    },
  };
};
