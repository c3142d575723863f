import fs from 'node:fs';
import { Command } from 'commander';
import { kubeconfigPath } from './config.js';
import { sandboxDown, sandboxStatus, sandboxUp } from './sandbox.js';
import { KIND_TOPOLOGY, readTopology, setTopology } from './topology.js';
import {
  addTopologyOptions,
  describeTopology,
  topologyFromOptions,
  type TopologyOptions,
} from './topology-options.js';

function fail(err: unknown): never {
  process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const program = new Command('sandbox').description(
  'Two local Kubernetes clusters ("source", "target") with real etcd pods',
);

addTopologyOptions(
  program
    .command('up')
    .description('start both clusters (removing whatever a previous run left) and write the kubeconfig'),
).action(async (opts: TopologyOptions) => {
  const topology = topologyFromOptions(KIND_TOPOLOGY, opts);
  const r = await sandboxUp().catch(fail);
  // The node agents read it on every reconcile; no load balancer exists yet.
  setTopology(topology);
  process.stdout.write(
    `sandbox up in ${(r.durationMs / 1000).toFixed(1)} s\nkubeconfig: ${r.kubeconfig} (contexts: source, target)\n` +
      describeTopology(topology),
  );
});

addTopologyOptions(
  program
    .command('topology')
    .description(
      'show or change the link between the clusters, the CoreDNS delay and the load-balancer address kind of the running sandbox',
    ),
).action((opts: TopologyOptions) => {
  if (!fs.existsSync(kubeconfigPath())) fail('the sandbox is not up (`sandbox up` takes the same options)');
  const changes = Object.values(opts).some((v) => v !== undefined);
  const topology = changes ? topologyFromOptions(readTopology(), opts) : readTopology();
  if (changes) setTopology(topology);
  process.stdout.write(describeTopology(topology));
});

program
  .command('down')
  .description('stop everything and remove every process, namespace, link and file the sandbox made')
  .action(async () => {
    await sandboxDown().catch(fail);
  });

program
  .command('status')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    const s = await sandboxStatus().catch(fail);
    if (opts.json) {
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      return;
    }
    process.stdout.write(`sandbox ${s.up ? 'up' : 'down'}; kubeconfig ${s.kubeconfig}\n`);
    for (const c of s.clusters) {
      const daemons = Object.entries(c.daemons)
        .map(([d, ok]) => `${d}:${ok ? 'up' : 'DOWN'}`)
        .join(' ');
      process.stdout.write(`\n[${c.name}] ${daemons}\n  nodes: ${c.nodes.join(', ')}\n`);
      for (const p of c.pods) {
        process.stdout.write(
          `  pod ${p.namespace}/${p.name}  ${p.phase}${p.ready ? ' Ready' : ''}  ip=${p.ip ?? '-'} node=${p.node ?? '-'} restarts=${p.restarts}\n`,
        );
      }
      for (const lb of c.loadBalancers)
        process.stdout.write(`  load balancer ${lb.namespace}/${lb.name}  ${lb.ip ?? 'pending'}\n`);
    }
    if (!s.up && (s.netns.length || s.links.length)) {
      process.stdout.write(
        `leftovers: netns ${s.netns.join(', ') || '-'}; links ${s.links.join(', ') || '-'}\n`,
      );
    }
  });

await program.parseAsync();
