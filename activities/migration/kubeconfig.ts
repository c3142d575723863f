import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubeconfigEntries } from '../kubernetes/kubeconfig-files.js';

/**
 * The kubeconfig the worker and `plan` use: every file of $KUBECONFIG that exists (merged as
 * kubectl merges them, activities/kubernetes/kubeconfig-files.ts), or ~/.kube/config. Returned as
 * a KUBECONFIG-style list of the files that exist.
 */
export function kubeconfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  const entries = kubeconfigEntries(env.KUBECONFIG ?? '');
  const wanted = entries.length > 0 ? entries : [path.join(os.homedir(), '.kube', 'config')];
  const existing = wanted.filter((file) => fs.existsSync(file));
  if (existing.length === 0) {
    throw new Error(
      `kubeconfig ${wanted.join(path.delimiter)} not found: set KUBECONFIG to a file (or a ${path.delimiter}-separated list of files) with the contexts your migration specs name`,
    );
  }
  return existing.join(path.delimiter);
}
