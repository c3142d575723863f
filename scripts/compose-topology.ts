/**
 * docker-compose.yml's topology without containers (sandbox/compose-topology.ts): PostgreSQL,
 * Temporal's schema, the Temporal server at compose's pin, the namespace, and the worker from
 * the image's contents, on loopback, until Ctrl-C; then everything stops and its files go.
 *   bash scripts/setup.sh temporal_server        # once: builds the server (about 11 min)
 *   KUBECONFIG=... npx tsx scripts/compose-topology.ts
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ComposeTopology, imageContents } from '../sandbox/compose-topology.js';
import { REPO_ROOT } from '../sandbox/config.js';

const say = (line: string) => process.stdout.write(`compose-topology: ${line}\n`);
const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-image-'));
const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const install = /^RUN (npm ci --omit=dev .*)$/m.exec(dockerfile)?.[1];
if (!install) throw new Error('Dockerfile: no `RUN npm ci --omit=dev` line');
say('assembling the image contents');
await imageContents(appDir, install);
const topology = await ComposeTopology.start({ appDir, say });
const w = topology.workerCommand({
  KUBECONFIG: process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube', 'config'),
  ETCD_STRETCH_METRICS_ADDRESS: '127.0.0.1:9464',
  ETCD_STRETCH_HEALTH_ADDRESS: '127.0.0.1:9465',
});
const worker = spawn(process.execPath, w.argv, { cwd: w.cwd, env: w.env, stdio: 'inherit' });
say(
  `Temporal at ${topology.address} (TEMPORAL_ADDRESS), worker probes at http://127.0.0.1:9465/readyz; Ctrl-C stops`,
);
const stop = async () => {
  worker.kill('SIGTERM');
  await new Promise((r) => (worker.exitCode === null ? worker.once('exit', r) : r(undefined)));
  await topology.stop();
  fs.rmSync(appDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
