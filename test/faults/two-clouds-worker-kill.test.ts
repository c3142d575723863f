/**
 * Two clouds, a worker dies (`npm run faults`): the target cluster's worker is SIGKILLed when the
 * run enters the join phase and started again in its cluster's network namespace, as a
 * Deployment's pod would be. Temporal retries its activity on the new process; every check of the
 * acceptance scenario holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import type { Kill } from '../helpers/worker-hosts.js';
import { useTestEnvironment } from '../workflow/harness.js';
import { KIND_TOPOLOGY, TWO_CLOUDS_TOPOLOGY, setTopology } from '../../sandbox/topology.js';

const temporal = useTestEnvironment();
beforeAll(() => setTopology(TWO_CLOUDS_TOPOLOGY));
afterAll(() => setTopology(KIND_TOPOLOGY));

describe('two clouds: the target worker is SIGKILLed during the join', () => {
  it('is restarted in its namespace and the migration completes safely', async () => {
    const kills: Kill[] = [];
    const r = await runAcceptanceScenario({
      client: temporal().client,
      perCluster: { address: temporal().address, killAt: { phase: 'join', cluster: 'target', kills } },
    });
    recordFaultRun('two-clouds-worker-kill', 'two clouds: target worker SIGKILLed in join', r, {
      notes: kills.map((k) => `killed pid ${k.pid} at ${k.phase} (${k.at})`),
    });
    expect(kills.map((k) => k.phase)).toEqual(['join']);
    expectCompletedSafely(r);
  });
});
