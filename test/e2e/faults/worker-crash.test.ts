import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runAcceptanceScenario } from '../../helpers/acceptance.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crashingWorkers, supervisedWorkers, type Kill } from '../../helpers/worker-hosts.js';
import { expectCompletedSafely } from '../../helpers/fault-expectations.js';
import { recordFaultRun } from '../../helpers/fault-report.js';
import { REPO_ROOT } from '../../../sandbox/config.js';
import { startTestEnvironment } from '../../workflow/harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

describe('fault: the worker is killed (SIGKILL) as each phase starts', () => {
  it('is picked up by a new worker every time and completes, with no failed client operation', async () => {
    const kills: Kill[] = [];
    const r = await runAcceptanceScenario({
      client: env.client,
      connection: env.nativeConnection,
      workers: crashingWorkers(env.client, env.address, kills),
    });
    // Phases that pass in well under a second may slip between two looks; most are hit.
    expect(kills.length, JSON.stringify(kills)).toBeGreaterThanOrEqual(5);
    expect(kills.map((k) => k.phase)).toEqual(expect.arrayContaining(['preflight', 'join', 'retire']));
    expect(new Set(kills.map((k) => k.pid)).size).toBe(kills.length);
    recordFaultRun('worker-killed-every-phase', '1. worker killed (SIGKILL) as each phase starts', r, {
      notes: [`${kills.length} kills: ${kills.map((k) => k.phase).join(', ')}`],
    });
    expect(r.outcome).toBe('completed');
    expect(r.quorum.duplicateChanges).toEqual([]);
    expect(r.quorum.quorumLost).toBe(false);
    // A membership change re-run after a crash finds its work done: exactly the planned members remain.
    expect(r.finalMembers.map((m) => m.name).sort()).toEqual(['etcd-main-0', 'etcd-main-1', 'etcd-main-2']);
    expect(r.finalMembers.every((m) => m.cluster === 'target' && !m.learner)).toBe(true);
    expect(r.failedOps, r.firstFailures.join('\n')).toBe(0);
    expect(r.lostWrites).toBe(0);
    expect(r.check.violations).toEqual([]);
    expect(r.hashKvConsistent).toBe(true);
  });
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
