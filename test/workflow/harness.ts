/** A Temporal dev server (the pinned CLI) and workers with fake activities, for workflow-logic tests. */
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  Worker,
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { toolPath, REPO_ROOT } from '../../sandbox/config.js';
import { waitFor } from '../../sandbox/processes.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes.js';
import { statusQuery } from '../../workflows/messages.js';
import type { MigrationStatus } from '../../workflows/status.js';
import type { MigrationActivities } from '../../core/activity-contract.js';
import fs from 'node:fs';
import YAML from 'yaml';

let runtimeInstalled = false;

export async function startTestEnvironment(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      ip: '127.0.0.1',
      ui: false,
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export async function createWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: MigrationActivities,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
}

/** The example spec, with overrides (gates, soak, ...). */
export function testSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = YAML.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'examples', 'migration-spec.yaml'), 'utf8'),
  ) as Record<string, unknown>;
  return { ...base, soak: '1s', ...overrides };
}

export function allGates(
  mode: 'auto' | 'manual',
  except: Record<string, 'auto' | 'manual'> = {},
): Record<string, string> {
  const gates = ['shrink', 'expose', 'dns', 'join', 'leader', 'switch-clients', 'finalize', 'cleanup'];
  return Object.fromEntries(gates.map((g) => [g, except[g] ?? mode]));
}

export async function statusOf(handle: WorkflowHandle): Promise<MigrationStatus> {
  return handle.query(statusQuery);
}

export async function waitForStatus(
  handle: WorkflowHandle,
  what: string,
  predicate: (s: MigrationStatus) => boolean,
  timeoutMs = 30_000,
): Promise<MigrationStatus> {
  return waitFor(
    what,
    async () => {
      const s = await statusOf(handle);
      return predicate(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}
