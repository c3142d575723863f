import { Command } from 'commander';
import { sandboxDown, sandboxStatus, sandboxUp } from './sandbox.js';

function fail(err: unknown): never {
  process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const program = new Command('sandbox').description(
  'Two local Kubernetes clusters ("source", "target") with real etcd pods',
);

program
  .command('up')
  .description('start both clusters (removing whatever a previous run left) and write the kubeconfig')
  .action(async () => {
    const r = await sandboxUp().catch(fail);
    process.stdout.write(
      `sandbox up in ${(r.durationMs / 1000).toFixed(1)} s\nkubeconfig: ${r.kubeconfig} (contexts: source, target)\n`,
    );
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
