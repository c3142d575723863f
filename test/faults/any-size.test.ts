/**
 * Any size, the longer run (`npm run faults`): the args-configured etcd 3.5 rendered with 3
 * members grows to 5 new ones under the live load client. Past the client switch the plan promotes
 * the last learner, removes an old member, then adds and promotes the two extra members while old
 * ones still vote (core/planner/phases/retire.ts); every check of the acceptance scenario holds.
 */
import { describe, expect, it } from 'vitest';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { argsFixture } from '../helpers/source-fixture.js';
import { useTestEnvironment } from '../workflow/harness.js';

const temporal = useTestEnvironment();

describe('any size: 3 -> 5 from an args-configured etcd 3.5', () => {
  it('completes under load with 5 new voters, no failed operation and the source PVCs kept', async () => {
    const r = await runAcceptanceScenario({
      client: temporal().client,
      perCluster: { address: temporal().address },
      sourceFixture: argsFixture(3),
      targetReplicas: 5,
    });
    const added = r.quorum.events.filter((e) => e.kind === 'added').map((e) => e.name);
    recordFaultRun('any-size-3-to-5', 'any size 3 -> 5 (args-configured etcd 3.5)', r, {
      notes: [`added ${added.join(', ')}`],
    });
    expectCompletedSafely(r);
    expect(r.finalMembers).toHaveLength(5);
    expect(r.opsTotal).toBeGreaterThan(1000);
    expect(r.sourcePvcsRetained).toBe(true);
    expect(added.sort()).toEqual(r.expectedFinalMembers);
  });
});
