import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The kubeconfig the worker uses: $KUBECONFIG (first entry) or ~/.kube/config. */
export function kubeconfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  const file =
    env.KUBECONFIG?.split(path.delimiter).find(Boolean) ?? path.join(os.homedir(), '.kube', 'config');
  if (!fs.existsSync(file)) {
    throw new Error(
      `kubeconfig ${file} not found: set KUBECONFIG to a file with the contexts your migration specs name`,
    );
  }
  return file;
}
