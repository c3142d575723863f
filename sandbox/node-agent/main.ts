import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { LAYOUTS, clusterDir, type ClusterName } from '../config.js';
import { NodeAgent } from './agent.js';
import { reuseConnections } from '../../activities/kubernetes/reused-connections.js';

const cluster = process.argv[2] as ClusterName;
const layout = LAYOUTS[cluster];
if (!layout) {
  process.stderr.write(`usage: node-agent <${Object.keys(LAYOUTS).join('|')}>\n`);
  process.exit(2);
}
const dir = clusterDir(cluster);
const kc = reuseConnections(new KubeConfig());
kc.loadFromFile(path.join(dir, 'node-agent.kubeconfig'));
const agent = new NodeAgent(layout, kc, dir);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  agent.log(`${signal}: stopping pods and load balancers`);
  agent
    .stop()
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      agent.log(`stop failed: ${String(err)}`);
      process.exit(1);
    });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (err) => agent.log(`unhandled: ${String(err)}`));

await agent.start();
agent.log('node agent running');
