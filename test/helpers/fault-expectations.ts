/** What every fault run that should end in a completed migration must show. */
import { expect } from 'vitest';
import type { ScenarioReport } from './acceptance.js';

export function expectCompletedSafely(r: ScenarioReport, opts: { failedOpsAllowed?: boolean } = {}): void {
  expect(r.failure).toBeUndefined();
  expect(r.outcome).toBe('completed');
  expect(r.finalMembers.map((m) => m.name).sort()).toEqual(r.expectedFinalMembers);
  expect(r.finalMembers.every((m) => m.cluster === 'target' && !m.learner)).toBe(true);
  expect(r.quorum.quorumLost).toBe(false);
  expect(r.quorum.duplicateChanges).toEqual([]);
  // A dying member can cost in-flight operations their answer, never an acknowledged write.
  if (!opts.failedOpsAllowed) expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
  expect(r.lostWrites).toBe(0);
  expect(r.check.violations).toEqual([]);
  expect(r.hashKvConsistent).toBe(true);
}
