/**
 * The layer rules of eslint.config.js work: small in-memory sources placed at paths in the layers
 * are linted with the repo's config (type-aware rules off, which keeps this fast and lets the files
 * be virtual) and must be reported, or not, by the rule that holds each boundary.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let eslint: ESLint;

beforeAll(async () => {
  eslint = new ESLint({
    cwd: root,
    overrideConfig: { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked },
  });
  await eslint.lintText('export {};\n', { filePath: `${root}/core/x.ts` }); // loads the config and plugins
}, 30_000);

/** `rule: message` of every report on `code` placed at `filePath` (relative to the repo). */
async function reports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${filePath}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const ZONE = 'import-x/no-restricted-paths';
const RESTRICTED = 'no-restricted-imports';

// [what, file, code, rules that must report]
const boundaries: [string, string, string, string[]][] = [
  [
    'kubernetes does not import etcd',
    'activities/kubernetes/x.ts',
    `export * from '../etcd/errors.js';`,
    [ZONE],
  ],
  [
    'etcd does not import kubernetes',
    'activities/etcd/x.ts',
    `export * from '../kubernetes/errors.js';`,
    [ZONE],
  ],
  [
    'etcd does not import migration',
    'activities/etcd/x.ts',
    `export * from '../migration/kubeconfig.js';`,
    [ZONE],
  ],
  [
    'a library imports core/ and activities/*.ts',
    'activities/kubernetes/x.ts',
    `export * from '../../core/failure-types.js';\nexport * from '../errors.js';`,
    [],
  ],
  [
    'activities do not import workflows',
    'activities/migration/x.ts',
    `export * from '../../workflows/status.js';`,
    [ZONE],
  ],
  ['core imports no other layer', 'core/x.ts', `export * from '../workflows/status.js';`, [ZONE]],
  [
    'workflows import no Node built-in',
    'workflows/x.ts',
    `export { readFileSync } from 'node:fs';`,
    [RESTRICTED],
  ],
  [
    'workflows import activities as types only',
    'workflows/x.ts',
    `export { kubeconfigFromEnvironment } from '../activities/migration/kubeconfig.js';`,
    [RESTRICTED],
  ],
  [
    'the client imports no activities (not even lazily)',
    'client/x.ts',
    `export const load = () => import('../activities/migration/kubeconfig.js');`,
    [ZONE],
  ],
  [
    "the client's dry run may read the source through the plan observation",
    'client/x.ts',
    `export const load = () => import('../activities/migration/plan-observation.js');`,
    [],
  ],
  [
    'the client imports no workflow code',
    'client/x.ts',
    `export * from '../workflows/migration-metrics.js';`,
    [RESTRICTED],
  ],
  [
    "the client imports workflows' definitions, and types",
    'client/x.ts',
    `import type { etcdMigration } from '../workflows/migration-workflow.js';\nexport type Run = typeof etcdMigration;\nexport * from '../workflows/messages.js';`,
    [],
  ],
];

describe('layer boundaries', () => {
  it.each(boundaries)('%s', async (_what, file, code, rules) => {
    const found = await reports(file, `${code}\n`);
    expect(
      found.map((r) => r.slice(0, r.indexOf(':'))),
      found.join('\n'),
    ).toEqual(rules);
  });
});

describe('import cycles', () => {
  // plan-builder.ts imports GATE_BEFORE_PHASE (a value) from plan-types.ts: importing it back
  // from plan-types.ts closes a cycle.
  it('a cycle of value imports', async () => {
    expect(
      await reports('core/planner/plan-types.ts', `export { PlanBuilder } from './plan-builder.js';\n`),
    ).toEqual(['import-x/no-cycle: Dependency cycle detected']);
  });

  it('a cycle that an `import type` closes', async () => {
    const code = `import type { PlanBuilder } from './plan-builder.js';\nexport type Builder = PlanBuilder;\n`;
    expect(await reports('core/planner/plan-types.ts', code)).toEqual([
      'layers/no-type-cycle: Import cycle through `import type`: core/planner/plan-types.ts -> core/planner/plan-builder.ts -> core/planner/plan-types.ts',
    ]);
  });
});
