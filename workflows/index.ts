// Everything the worker registers as workflow code (bundled by the Temporal worker).
export { etcdMigration } from './migration-workflow.js';
