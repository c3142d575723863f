import fs from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { LB_LINK, sandboxDir } from '../../sandbox/config.js';
import { attachClientNetns } from '../../sandbox/client-netns.js';
import { startClusterWorker } from '../../sandbox/cluster-worker.js';
import { isAlive, waitFor } from '../../sandbox/processes.js';
import { sandboxDown, sandboxUp } from '../../sandbox/sandbox.js';
import { apply, clusterClient, loadManifests, readyPods } from '../helpers/kube.js';
import { PersistentDevServer } from '../helpers/temporal-server.js';

function sandboxProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return (
    out
      .split('\n')
      // Control-plane daemons name files under the sandbox dir; pod containers run `sh -c` / `etcd --name=...`.
      .filter(
        (l) =>
          l.includes(sandboxDir()) ||
          /node-agent\/main\.ts|^\s*\d+ etcd --name=|--initial-cluster-token=etcd-cortex-prod/.test(l),
      )
      .filter((l) => !l.includes('vitest'))
  );
}

function sandboxLinksAndNetns(): { links: string[]; netns: string[] } {
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith('es-') || n.startsWith('esb-') || n === LB_LINK);
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('es-'));
  return { links, netns };
}

/** Listening sockets on the sandbox's addresses (a listener outlives the address it was bound to). */
function sandboxListeners(): string[] {
  return execFileSync('ss', ['-Hltn'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => / 198\.1[89]\./.test(l));
}

describe('sandbox down', () => {
  let temporal: PersistentDevServer | undefined;
  afterAll(async () => {
    await sandboxDown({ quiet: true });
    await temporal?.stop();
  });

  it('leaves no process, network namespace, link, mount or directory behind', async () => {
    await sandboxUp();
    const source = clusterClient('source');
    await apply(source, loadManifests('test/fixtures/article-etcd.yaml', 'default'));
    await apply(source, [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'etcd-0-lb', namespace: 'default' },
        spec: {
          type: 'LoadBalancer',
          selector: { 'statefulset.kubernetes.io/pod-name': 'etcd-0' },
          ports: [{ port: 2379 }],
        },
      } as never,
    ]);
    await readyPods(source, 'default', 'app=etcd', 3);
    temporal = await PersistentDevServer.start();
    const worker = await startClusterWorker({
      cluster: 'target',
      temporalAddress: temporal.address,
      entry: 'test/helpers/cluster-worker-probe.ts',
    });
    // A process in the source cluster's client namespace, as the remote load client runs there.
    const client = await attachClientNetns('source', 'default');
    const sleeper = spawn('ip', client.execArgs('sleep', ['600']), { stdio: 'ignore' });
    await waitFor('the sleeper in the client namespace', () => client.holds(sleeper.pid!), {
      timeoutMs: 10_000,
    });
    // While up, there really is something to clean.
    expect(sandboxProcesses().length).toBeGreaterThanOrEqual(9);
    const { netns } = sandboxLinksAndNetns();
    expect(netns).toHaveLength(5);
    expect(netns.filter((n) => n.startsWith(`${worker.netns} `) || n === worker.netns)).toHaveLength(1);
    expect(netns.filter((n) => n.startsWith(`${client.netns} `) || n === client.netns)).toHaveLength(1);
    expect(isAlive(worker.pid)).toBe(true);
    // the API server forwarders (node agents) and the worker's Temporal forwarder (this process)
    expect(sandboxListeners().length).toBeGreaterThanOrEqual(3);
    expect(fs.existsSync(sandboxDir())).toBe(true);

    await sandboxDown({ quiet: true });

    expect(isAlive(worker.pid)).toBe(false);
    await waitFor(
      'the sleeper to be reaped',
      () => Promise.resolve(sleeper.exitCode !== null || sleeper.signalCode !== null),
      { timeoutMs: 5000 },
    );
    expect(sleeper.signalCode).toBe('SIGTERM');
    expect(sandboxListeners()).toEqual([]);
    expect(sandboxProcesses()).toEqual([]);
    expect(sandboxLinksAndNetns()).toEqual({ links: [], netns: [] });
    expect(
      fs.readdirSync('/etc/netns', { withFileTypes: true }).filter((e) => e.name.startsWith('es-')),
    ).toEqual([]);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(sandboxDir()) || l.includes('/run/netns/es-'));
    expect(mounts).toEqual([]);
    expect(fs.existsSync(sandboxDir())).toBe(false);
    const lbAddresses = execFileSync('ip', ['-o', 'addr', 'show'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('198.19.') || l.includes('198.18.'));
    expect(lbAddresses).toEqual([]);
  });
});
