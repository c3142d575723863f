// The demo: the acceptance scenario with visible progress. Brings up the sandbox and a local
// Temporal dev server (Web UI on http://127.0.0.1:8233, left running with the run in it),
// migrates the article's etcd from cluster "source" to "target" under live load, and writes
// reports/demo-report.json. As two clouds by default: a worker per cluster in its cluster's
// network namespace, a 20 ms / 100 Mbit/s link, 30 s DNS delay, hostname load balancers on the
// target (`--single-worker`, `--preset kind` and the sandbox's topology options change that).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Command } from 'commander';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { REPO_ROOT, sandboxDir, toolPath } from '../sandbox/config.js';
import { startDaemon, waitFor } from '../sandbox/processes.js';
import { sandboxStatus, sandboxUp } from '../sandbox/sandbox.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/search-attributes.js';
import { runAcceptanceScenario } from '../test/helpers/acceptance.js';
import { TWO_CLOUDS_TOPOLOGY } from '../sandbox/topology.js';
import {
  addTopologyOptions,
  describeTopology,
  topologyFromOptions,
  type TopologyOptions,
} from '../sandbox/topology-options.js';

const cli = addTopologyOptions(
  new Command('demo')
    .description('a real migration in the local two-cluster sandbox')
    .option('--single-worker', 'one worker that reaches both clusters, instead of a worker per cluster'),
);
cli.parse();
const options = cli.opts<TopologyOptions & { singleWorker?: boolean }>();
const topology = topologyFromOptions(TWO_CLOUDS_TOPOLOGY, options);

const TEMPORAL_ADDRESS = '127.0.0.1:7233';
const say = (m: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} demo: ${m}\n`);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function ensureTemporal(): Promise<void> {
  if (await portOpen(7233)) {
    say(`using the Temporal server already on ${TEMPORAL_ADDRESS}`);
    return;
  }
  const dir = path.join(sandboxDir(), '..', 'etcd-stretch-temporal');
  fs.mkdirSync(dir, { recursive: true });
  startDaemon(
    'temporal-dev-server',
    toolPath('temporal'),
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '7233',
      '--ui-port',
      '8233',
      '--headless=false',
      '--db-filename',
      path.join(dir, 'temporal.db'),
      '--log-level',
      'warn',
      ...SEARCH_ATTRIBUTE_KEYS.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
    ],
    dir,
  );
  await waitFor('the Temporal dev server', () => portOpen(7233), { timeoutMs: 60_000 });
  say('Temporal dev server up: Web UI on http://127.0.0.1:8233');
}

Runtime.install({ logger: new DefaultLogger('WARN') });
if (process.env.ETCD_STRETCH_REUSE_SANDBOX === '1' && (await sandboxStatus()).up) {
  say('reusing the running sandbox');
} else {
  const up = await sandboxUp();
  say(
    `sandbox up in ${(up.durationMs / 1000).toFixed(1)} s (kubeconfig ${up.kubeconfig}, contexts source and target)`,
  );
}
say(`topology: ${describeTopology(topology).trim().replace(/\n/g, '; ')}`);
await ensureTemporal();
const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
const nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
const report = await runAcceptanceScenario({
  client: new Client({ connection }),
  connection: nativeConnection,
  ...(options.singleWorker ? {} : { perCluster: { address: TEMPORAL_ADDRESS } }),
  topology,
  onProgress: say,
  cleanup: false,
});
const { status, check, ...rest } = report;
const out = {
  ...rest,
  violations: check.violations,
  approvals: status?.approvals.filter((a) => a.mode === 'manual') ?? [],
};
fs.mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
fs.writeFileSync(path.join(REPO_ROOT, 'reports', 'demo-report.json'), JSON.stringify(out, null, 2) + '\n');
say(
  `${report.outcome}: ${report.opsTotal} ops (${report.opsPerSecond}/s), failed ${report.failedOps}, indeterminate ${report.indeterminateOps}, ` +
    `lost writes ${report.lostWrites}, max write gap ${report.maxWriteGapMs} ms, hashKV ${report.hashKvConsistent ? 'consistent' : 'MISMATCH'}, ` +
    `took ${(report.durationMs / 1000).toFixed(0)} s`,
);
say(`final members: ${report.finalMembers.map((m) => `${m.name}@${m.cluster}`).join(', ')}`);
say(
  `report: reports/demo-report.json; the run: http://127.0.0.1:8233/namespaces/default/workflows/${report.temporalWorkflowId}`,
);
await connection.close();
await nativeConnection.close();
process.exit(report.outcome === 'completed' && report.failedOps === 0 && report.lostWrites === 0 ? 0 : 1);
