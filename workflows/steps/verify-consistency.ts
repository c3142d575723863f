/**
 * hashKV of the step's members at one revision. Single mode: one worker hashes them all
 * (verifyConsistency). Per-cluster mode: each side's worker hashes its own members by pod IP
 * (hashKvOnSide), the side etcd calls go through now first, the other at that revision, and the
 * workflow combines the readings (core/routing/side-hashes.ts).
 */
import { ApplicationFailure, log, patched, sleep } from '@temporalio/workflow';
import type { Side, SideHashKv } from '../../core/activity-contract.js';
import { FailureType } from '../../core/failure-types.js';
import type { StepOfKind } from '../../core/planner/plan-types.js';
import { combineSideHashes, membersBySide, type CombinedHashKv } from '../../core/routing/side-hashes.js';
import { taskQueueOf } from '../../core/routing/task-queues.js';
import { HASH_ON_EACH_SIDE_PATCH } from '../patches.js';
import type { StepContext, StepExecutor } from './step-context.js';

/**
 * Readings before a disagreement fails the step, and the waits between them: as verifyConsistency's
 * retry policy (activity-options.ts, `observation`), which retried its ConsistencyMismatch. A
 * member still catching up, or a compaction past the revision between the two readings, gets a
 * fresh reading; a real divergence fails every one.
 */
const READINGS = 5;
const FIRST_WAIT_MS = 1_000;
const MAX_WAIT_MS = 10_000;

export const verifyConsistency: StepExecutor<'verify-consistency'> = async (step, ctx) => {
  const { spec, run } = ctx;
  if (taskQueueOf(spec, 'source') === undefined || !patched(HASH_ON_EACH_SIDE_PATCH)) {
    const e = await ctx.acts.verifyConsistency({ spec, members: step.members, stepId: step.id });
    run.recordEvidence(e);
    return `hashKV agrees at revision ${e.hashKv?.revision}`;
  }
  const combined = await agreeingReadings(step, ctx);
  const observed = await ctx.acts.observe({ spec, stepId: step.id, skipHashKv: true });
  run.recordEvidence({ ...observed, hashKv: combined.hashKv });
  return combined.summary;
};

/** Reads both sides until they agree; throws ConsistencyMismatch after the last reading. */
async function agreeingReadings(
  step: StepOfKind<'verify-consistency'>,
  ctx: StepContext,
): Promise<CombinedHashKv> {
  let waitMs = FIRST_WAIT_MS;
  for (let reading = 1; ; reading++) {
    const combined = combineSideHashes(await readBothSides(step, ctx), step.members);
    if (combined.hashKv.agree) return combined;
    if (reading === READINGS)
      throw ApplicationFailure.nonRetryable(
        `${combined.summary}; ${READINGS} readings`,
        FailureType.ConsistencyMismatch,
        { mismatched: combined.mismatched, revision: combined.hashKv.revision },
      );
    log.warn('hashKV readings disagree; reading again', {
      step: step.id,
      reading,
      summary: combined.summary,
    });
    await sleep(waitMs);
    waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
  }
}

/** The side etcd calls go through now reads at its current revision, the other at that one. */
async function readBothSides(
  step: StepOfKind<'verify-consistency'>,
  ctx: StepContext,
): Promise<SideHashKv[]> {
  const { spec, run, acts } = ctx;
  const bySide = membersBySide(spec, step.members);
  const first: Side = run.clientsSwitched ? 'target' : 'source';
  const order = [first, first === 'source' ? 'target' : 'source'] as const;
  const readings: SideHashKv[] = [];
  for (const side of order) {
    if (bySide[side].length === 0) continue;
    const revision = readings[0]?.revision;
    readings.push(
      await acts.hashKvOnSide({
        spec,
        side,
        members: bySide[side],
        stepId: step.id,
        ...(revision === undefined ? {} : { revision }),
      }),
    );
  }
  return readings;
}
