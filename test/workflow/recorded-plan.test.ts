/**
 * A worker upgrade mid-migration: the plan is made once by the preflight activity and read back
 * from the history on replay, so a newer planner does not change a run already under way. A run
 * from before (planned in workflow code) would not survive that planner change: the contrast shows
 * what the recorded plan buys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { etcdMigration } from '../../workflows/migration-workflow.js';
import { REPO_ROOT } from '../../sandbox/config.js';
import { createFakeActivities } from './fake-activities.js';
import { allGates, createWorker, startTestEnvironment, testSpec } from './harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

/** The workflow code as a newer worker would bundle it: the planner replaced. */
function bundleWithChangedPlanner() {
  const changed = path.join(REPO_ROOT, 'test', 'workflow', 'changed-planner.ts');
  return bundleWorkflowCode({
    workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
    webpackConfigHook: (config) => {
      // Only the workflow's own import of the planner; changed-planner.ts imports the real one.
      const planner = /^\.\.\/core\/planner\/plan\.js$/;
      config.plugins = [
        ...(config.plugins ?? []),
        {
          apply(compiler) {
            compiler.hooks.normalModuleFactory.tap('changed-planner', (factory) => {
              factory.hooks.beforeResolve.tap('changed-planner', (data) => {
                if (planner.test(data.request)) data.request = changed;
              });
            });
          },
        },
      ];
      return config;
    },
  });
}

async function completedRun(planInWorkflow: boolean) {
  const taskQueue = `plan-${randomUUID()}`;
  const fake = createFakeActivities({ planInWorkflow });
  const worker = await createWorker(env, taskQueue, fake.activities);
  const handle = await worker.runUntil(async () => {
    const h = await env.client.workflow.start<typeof etcdMigration>('etcdMigration', {
      taskQueue,
      workflowId: `plan-${randomUUID()}`,
      args: [{ spec: testSpec({ gates: allGates('auto') }) }],
    });
    expect((await h.result()).outcome).toBe('completed');
    return h;
  });
  return { history: await handle.fetchHistory(), fake, workflowId: handle.workflowId };
}

describe('the plan is recorded once', () => {
  it('a run replays on a worker whose planner changed; a run planned in workflow code does not', async () => {
    const changedBundle = await bundleWithChangedPlanner();
    const recorded = await completedRun(false);
    // The run did shrink: the changed planner would have left that out.
    expect(recorded.fake.calls.map((c) => c.name)).toContain('compact');
    await Worker.runReplayHistory({ workflowBundle: changedBundle }, recorded.history, recorded.workflowId);
    if (process.env.RECORD_HISTORIES === '1') {
      const file = path.join('test', 'fixtures', 'histories', 'recorded-plan-completed.json');
      fs.writeFileSync(file, historyToJSON(recorded.history));
    }

    const legacy = await completedRun(true);
    await expect(
      Worker.runReplayHistory({ workflowBundle: changedBundle }, legacy.history, legacy.workflowId),
    ).rejects.toThrow(/[Nn]ondetermin/);
  });
});
