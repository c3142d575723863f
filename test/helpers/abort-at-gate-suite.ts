/**
 * Fault run 8 as a suite a test file runs for some gates: an abort at a gate before the client
 * switch rolls back to exactly the source as it was: the same member IDs, the same objects
 * (resourceVersions), the same Corefile, nothing left in the target namespace, and no client
 * operation failed. test/faults/abort-at-gates.test.ts runs every gate before the client switch
 * (npm run faults); the abort at the switch-clients gate is in test/e2e/acceptance.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from './acceptance.js';
import { recordFaultRun } from './fault-report.js';
import { startTestEnvironment } from '../workflow/harness.js';
import type { GateName } from '../../core/spec/schema.js';

export function describeAbortAtGates(gates: GateName[]): void {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTestEnvironment();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  describe('fault: abort at a gate before the client switch', () => {
    it.each(gates)('abort at the %s gate leaves the source exactly as it was', async (gate) => {
      const r = await runAcceptanceScenario({
        client: env.client,
        perCluster: { address: env.address },
        abortAtGate: gate,
        keys: 200,
      });
      recordFaultRun(`abort-at-${gate}`, `8. abort at the ${gate} gate`, r, {
        outcome: r.outcome === 'aborted' ? 'aborted, rolled back' : r.outcome,
        notes: r.status.compensations.map((c) => `${c.title}: ${c.state}`),
      });
      expect(r.failure).toBeUndefined();
      expect(r.outcome).toBe('aborted');
      expect(r.status.compensations.every((c) => c.state === 'done')).toBe(true);
      expect(r.sourceStateAfter).toBeDefined();
      expect(r.sourceStateAfter!.memberIds).toEqual(r.sourceStateBefore.memberIds);
      expect(r.sourceStateAfter!.objects).toEqual(r.sourceStateBefore.objects);
      expect(r.sourceStateAfter!.corefile).toBe(r.sourceStateBefore.corefile);
      expect(r.sourceStateAfter!.targetObjects).toEqual(r.sourceStateBefore.targetObjects);
      expect(r.status.lastEvidence?.members.map((m) => m.name).sort()).toEqual([
        'etcd-0',
        'etcd-1',
        'etcd-2',
      ]);
      expect(r.hashKvConsistent).toBe(true);
      expect(r.quorum.quorumLost).toBe(false);
      expect(r.quorum.events.filter((e) => e.kind !== 'promoted')).toHaveLength(
        gate === 'leader' ? 6 : 0, // 3 new members joined and were removed again
      );
      expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
      expect(r.lostWrites).toBe(0);
      expect(r.check.violations).toEqual([]);
    });
  });
}
