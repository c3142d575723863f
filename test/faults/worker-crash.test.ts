/**
 * Fault run 1b: the worker dies right after an etcd membership change and before it reports it.
 * One worker process (worker code wrapped by test/helpers/crash-after-change-worker.ts); the
 * per-cluster kills at every phase are in test/faults/two-clouds-worker-kill.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { supervisedWorkers } from '../helpers/worker-hosts.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { REPO_ROOT } from '../../sandbox/config.js';
import { startTestEnvironment } from '../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('fault: the worker dies between an etcd membership change and its report', () => {
  it('the retried activity finds the change made: no member added, promoted or removed twice', async () => {
    const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-crash-markers-'));
    const exits: { at: string; pid: number; how: string }[] = [];
    try {
      const r = await runAcceptanceScenario({
        client: env.client,
        workers: supervisedWorkers({
          address: env.address,
          entry: path.join(REPO_ROOT, 'test', 'helpers', 'crash-after-change-worker.ts'),
          env: { ETCD_STRETCH_CRASH_MARKERS: markers },
          exits,
        }),
      });
      const crashed = fs.readdirSync(markers).sort();
      recordFaultRun(
        'worker-killed-after-membership-change',
        '1b. worker killed between a membership change and its report',
        r,
        {
          notes: [
            `killed after: ${crashed.join(', ')}`,
            `worker exits: ${exits.map((e) => e.how).join(', ')}`,
          ],
        },
      );
      // One crash right after each kind of change, each time with the change made in etcd.
      expect(crashed).toEqual(['addLearner', 'promote', 'removeMember']);
      expect(exits.filter((e) => e.how === 'SIGKILL').length).toBeGreaterThanOrEqual(3);
      expectCompletedSafely(r);
      expect(r.quorum.events.filter((e) => e.kind === 'added')).toHaveLength(3);
      expect(r.quorum.events.filter((e) => e.kind === 'removed')).toHaveLength(3);
    } finally {
      fs.rmSync(markers, { recursive: true, force: true });
    }
  });
});
