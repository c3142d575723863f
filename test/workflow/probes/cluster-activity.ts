/**
 * A probe workflow for test/workflow/per-cluster-worker.test.ts: calls one migration activity on
 * a given task queue, once, the way the migration workflow routes an activity in per-cluster mode.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { MigrationActivities, Side } from '../../../core/activity-contract.js';
import type { MigrationSpec } from '../../../core/spec/schema.js';

export async function ensureHeadlessServiceOn(
  taskQueue: string,
  spec: MigrationSpec,
  side: Side,
): Promise<{ created: boolean }> {
  const { ensureHeadlessService } = proxyActivities<MigrationActivities>({
    taskQueue,
    startToCloseTimeout: '30s',
    retry: { maximumAttempts: 1 },
  });
  return ensureHeadlessService({ spec, side });
}
