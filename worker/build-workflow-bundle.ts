/**
 * Prebuilds the workflow bundle the worker loads with ETCD_STRETCH_WORKFLOW_BUNDLE, so that no
 * worker runs webpack at start (`npm run build`; the Dockerfile's build stage).
 *   node dist/worker/build-workflow-bundle.js [out]     default: dist/workflow-bundle.js
 * Bundles the workflows beside this file: the compiled ones when run from dist/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);

export async function buildWorkflowBundle(out: string): Promise<{ bytes: number }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(here, '..', 'workflows', `index${path.extname(self)}`),
    logger: new DefaultLogger('WARN'),
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.tmp`, code);
  fs.renameSync(`${out}.tmp`, out);
  return { bytes: Buffer.byteLength(code) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  const out = path.resolve(process.argv[2] ?? path.join(here, '..', 'workflow-bundle.js'));
  buildWorkflowBundle(out).then(
    ({ bytes }) => process.stdout.write(`workflow bundle: ${out} (${bytes} bytes)\n`),
    (err: unknown) => {
      process.stderr.write(`workflow bundle: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
