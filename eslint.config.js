// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { statSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import ts from 'typescript';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O clients.
const ioPackages = [
  '@kubernetes/client-node',
  'etcd3',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

/**
 * The layers and who may import whom (paths relative to this folder). `core/` is the bottom:
 * pure shared code. `workflows/` imports core/ (activities only with `import type`, held by
 * no-restricted-imports below). `activities/etcd/` and `activities/kubernetes/` are two I/O
 * libraries on core/ and the neutral modules directly in `activities/`; neither imports the
 * other or `activities/migration/`, the activity surface that joins them. Nothing in
 * activities/ imports workflows/. `worker/` registers activities/migration/. `client/` imports
 * core/ and workflows' definitions, and activities/ only for the dry run's observation.
 */
const layerZones = [
  {
    target: 'core',
    from: ['workflows', 'activities', 'worker', 'client'],
    message: 'core/ is the shared bottom layer: it imports no other layer.',
  },
  {
    target: 'workflows',
    from: ['worker', 'client'],
    message: 'Workflow code imports core/ (and activities with `import type`) only.',
  },
  {
    target: 'activities',
    from: ['workflows', 'worker', 'client'],
    message: 'Activities must not import workflow, worker or client code.',
  },
  {
    target: 'activities/etcd',
    from: ['activities/kubernetes', 'activities/migration'],
    message:
      'The etcd library must not import the kubernetes library or activities/migration/ (shared code goes to core/ or activities/*.ts).',
  },
  {
    target: 'activities/kubernetes',
    from: ['activities/etcd', 'activities/migration'],
    message:
      'The kubernetes library must not import the etcd library or activities/migration/ (shared code goes to core/ or activities/*.ts).',
  },
  {
    target: 'activities/*.ts',
    from: ['activities/etcd', 'activities/kubernetes', 'activities/migration'],
    message: 'The neutral modules in activities/ must not import the libraries that use them.',
  },
  {
    target: 'worker',
    from: ['activities'],
    except: ['./migration'],
    message: 'The worker registers activities through activities/migration/ only.',
  },
  {
    target: 'worker',
    from: ['client'],
    message: 'The worker must not import client code.',
  },
  {
    target: 'client',
    from: ['activities'],
    // The dry run (`etcd-stretch plan`) reads the source cluster the way preflight does.
    except: ['./migration/plan-observation.ts'],
    message: 'The client must not import activities (they run in the worker), but for the dry run.',
  },
];

/**
 * `import-x/no-cycle` follows value imports only (`import type` is erased at run time), so a
 * cycle that only `import type` edges close passes it. Such a cycle still ties the modules'
 * designs together; this rule reports it, and leaves cycles of value imports to import-x.
 * Relative imports only, resolved as tsc does (NodeNext: `./x.js` is `./x.ts`).
 */
const typeCycleRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles that `import type` edges close.' },
    schema: [],
    messages: { cycle: 'Import cycle through `import type`: {{route}}' },
  },
  /** @param {import('eslint').Rule.RuleContext} context */
  create(context) {
    const file = context.physicalFilename;
    if (!file.endsWith('.ts')) return {};
    return {
      Program() {
        const own = moduleImports(file, context.sourceCode.text);
        for (const edge of own) {
          // A cycle of value imports only is import-x/no-cycle's to report.
          if (!edge.typeOnly && routeBack(edge.to, file, false)) continue;
          const route = routeBack(edge.to, file, true);
          if (!route) continue;
          const names = [file, ...route].map((f) => f.slice(import.meta.dirname.length + 1));
          context.report({ loc: edge.loc, messageId: 'cycle', data: { route: names.join(' -> ') } });
        }
      },
    };
  },
};

const tsOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
/** @type {Map<string, { mtimeMs: number, edges: ReturnType<typeof moduleImports> }>} */
const importsOnDisk = new Map();

/** The relative imports of one module: target file, whether only types are imported, where. */
function moduleImports(/** @type {string} */ file, /** @type {string} */ text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  /** @type {{ to: string, typeOnly: boolean, loc: import('eslint').AST.SourceLocation }[]} */
  const edges = [];
  const add = (/** @type {ts.Node} */ specifier, /** @type {boolean} */ typeOnly) => {
    if (!ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
    const resolved = ts.resolveModuleName(specifier.text, file, tsOptions, ts.sys).resolvedModule;
    if (!resolved || resolved.isExternalLibraryImport || !resolved.resolvedFileName.endsWith('.ts')) return;
    const at = (/** @type {number} */ pos) => {
      const { line, character } = source.getLineAndCharacterOfPosition(pos);
      return { line: line + 1, column: character };
    };
    const loc = { start: at(specifier.getStart(source)), end: at(specifier.getEnd()) };
    edges.push({ to: resolved.resolvedFileName, typeOnly, loc });
  };
  const allTypes = (/** @type {readonly { isTypeOnly: boolean }[]} */ elements) =>
    elements.length > 0 && elements.every((e) => e.isTypeOnly);
  const visit = (/** @type {ts.Node} */ node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name && named !== undefined && ts.isNamedImports(named) && allTypes(named.elements)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause;
      add(
        node.moduleSpecifier,
        node.isTypeOnly || (named !== undefined && ts.isNamedExports(named) && allTypes(named.elements)),
      );
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      if (node.arguments[0]) add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

function importsOf(/** @type {string} */ file) {
  const { mtimeMs } = statSync(file);
  let cached = importsOnDisk.get(file);
  if (cached?.mtimeMs !== mtimeMs) {
    cached = { mtimeMs, edges: moduleImports(file, readFileSync(file, 'utf8')) };
    importsOnDisk.set(file, cached);
  }
  return cached.edges;
}

/** The files from `start` back to `target` (breadth first), or undefined. */
function routeBack(
  /** @type {string} */ start,
  /** @type {string} */ target,
  /** @type {boolean} */ withTypes,
) {
  /** @type {Map<string, string | undefined>} */
  const parent = new Map([[start, undefined]]);
  const queue = [start];
  for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
    if (current === target) {
      const route = [];
      for (let at = parent.get(current); at !== undefined; at = parent.get(at)) route.unshift(at);
      return [...route, target];
    }
    for (const edge of importsOf(current)) {
      if ((withTypes || !edge.typeOnly) && !parent.has(edge.to)) {
        parent.set(edge.to, current);
        queue.push(edge.to);
      }
    }
  }
  return undefined;
}

const layeredSources = [
  'core/**/*.ts',
  'workflows/**/*.ts',
  'activities/**/*.ts',
  'worker/**/*.ts',
  'client/**/*.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', 'reports/**', 'bench/results/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: layeredSources,
    plugins: { 'import-x': importX, layers: { rules: { 'no-type-cycle': typeCycleRule } } },
    settings: {
      // import-x reads the imported .ts modules with the TypeScript parser (no-cycle follows them).
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Resolves the NodeNext `.js` specifiers to the `.ts` sources.
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: `${import.meta.dirname}/tsconfig.json` }),
      ],
    },
    rules: {
      // Type-only imports are erased and do not count (layers/no-type-cycle has those). Packages
      // are not followed, which keeps it to about 2 s for the whole tree without a depth limit.
      'import-x/no-cycle': ['error', { ignoreExternal: true, maxDepth: '∞' }],
      'layers/no-type-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones }],
    },
  },
  {
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/workflows/**',
                '!**/workflows/messages.js',
                '!**/workflows/status.js',
                '!**/workflows/search-attributes.js',
              ],
              allowTypeImports: true,
              message:
                'The client imports only the workflow message, status and search-attribute definitions (anything else with `import type`).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...ioPackages].map((name) => ({
            name,
            message:
              'Workflow code must stay deterministic: no Node modules or I/O packages (use activities).',
          })),
          patterns: [
            {
              group: ['**/activities/**', '../activities/*'],
              allowTypeImports: true,
              message: 'Import activities with `import type` only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
