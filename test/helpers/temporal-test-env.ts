/**
 * A local Temporal test environment and the workflow code bundled once per process. Free of
 * vitest, so the demo (scripts/demo.ts), which runs outside vitest, can use the helpers that
 * need them; test/workflow/harness.ts adds the vitest hooks.
 */
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { REPO_ROOT, toolPath } from '../../sandbox/config.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes.js';

let runtimeInstalled = false;

export async function startTestEnvironment(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  // sdk-core gives the dev server a fixed 5 s to answer; on a loaded CI machine it sometimes
  // needs longer (seen once in a full run). A start that timed out is tried again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: toolPath('temporal') },
          searchAttributes: SEARCH_ATTRIBUTE_KEYS,
          ip: '127.0.0.1',
          ui: false,
        },
      });
    } catch (err) {
      if (attempt >= 3 || !/did not start within/.test(String(err))) throw err;
    }
  }
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}
