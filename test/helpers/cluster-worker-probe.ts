/**
 * A stand-in for worker/main.ts under startClusterWorker: connects to Temporal at
 * TEMPORAL_ADDRESS (retrying, as the worker's connection would), prints one JSON line with what it
 * was given and reached, then stays until it is signalled.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';

const address = process.env.TEMPORAL_ADDRESS ?? '';
const kc = new KubeConfig();
kc.loadFromDefault();

let systemInfo = false;
let lastError = '';
const deadline = Date.now() + 60_000;
while (!systemInfo && Date.now() < deadline) {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 5000 });
    await connection.workflowService.getSystemInfo({});
    await connection.close();
    systemInfo = true;
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err);
    await new Promise((r) => setTimeout(r, 500));
  }
}
process.stdout.write(
  JSON.stringify({
    probe: 'cluster-worker',
    pid: process.pid,
    temporalAddress: address,
    temporal: systemInfo ? 'ok' : lastError,
    cluster: process.env.ETCD_STRETCH_CLUSTER,
    contexts: kc.getContexts().map((c) => c.name),
    server: kc.getCurrentCluster()?.server,
    env: Object.keys(process.env).sort(),
  }) + '\n',
);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => undefined, 60_000);
