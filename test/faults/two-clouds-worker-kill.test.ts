/**
 * Two clouds, workers die (`npm run faults`): a cluster's worker is SIGKILLed and started again in
 * its cluster's network namespace, as a Deployment's pod would be. Temporal retries the activity
 * in flight on the new process; every check of the acceptance scenario holds.
 */
import { describe, expect, it } from 'vitest';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import type { Kill } from '../helpers/worker-hosts.js';
import { useTestEnvironment } from '../workflow/harness.js';

const temporal = useTestEnvironment();
const killNotes = (kills: Kill[]) =>
  kills.map((k) => `killed ${k.cluster} pid ${k.pid} at ${k.phase} (${k.at})`);

describe('two clouds: the target worker is SIGKILLed during the join', () => {
  it('is restarted in its namespace and the migration completes safely', async () => {
    const kills: Kill[] = [];
    const r = await runAcceptanceScenario({
      client: temporal().client,
      perCluster: { address: temporal().address, killAt: { phases: ['join'], clusters: ['target'], kills } },
    });
    recordFaultRun('two-clouds-worker-kill', 'two clouds: target worker SIGKILLed in join', r, {
      notes: killNotes(kills),
    });
    expect(kills.map((k) => [k.phase, k.cluster])).toEqual([['join', 'target']]);
    expectCompletedSafely(r);
  });
});

describe('two clouds: both workers are SIGKILLed as each phase starts', () => {
  it('are restarted every time and the migration completes safely', async () => {
    const kills: Kill[] = [];
    const r = await runAcceptanceScenario({
      client: temporal().client,
      perCluster: {
        address: temporal().address,
        killAt: { phases: 'every', clusters: ['source', 'target'], kills },
      },
    });
    const phases = [...new Set(kills.map((k) => k.phase))];
    recordFaultRun('worker-killed-every-phase', '1. both workers killed (SIGKILL) as each phase starts', r, {
      notes: [`${kills.length} kills in ${phases.join(', ')}`],
    });
    // Phases that pass in well under a second may slip between two looks; most are hit.
    expect(phases.length, JSON.stringify(kills)).toBeGreaterThanOrEqual(5);
    expect(phases).toEqual(expect.arrayContaining(['preflight', 'join', 'retire']));
    expect(kills.filter((k) => k.cluster === 'source')).toHaveLength(phases.length);
    expect(kills.filter((k) => k.cluster === 'target')).toHaveLength(phases.length);
    expect(new Set(kills.map((k) => k.pid)).size).toBe(kills.length);
    expectCompletedSafely(r);
  });
});
