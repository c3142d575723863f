/**
 * Baseline: a fresh 3-member etcd in cluster `target`, `etcdctl make-mirror` from the source into
 * it, the clients switched once the mirror has caught up (a marker written to the source is seen
 * in the target), the mirror stopped once it has drained (a second marker after the switch).
 * The mirror runs on the host, which reaches both clusters' pod IPs: a stand-in for a jump host.
 */
import { spawn } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { etcdctl, waitFor } from '../../test/helpers/kube.js';
import { finishBaseline, startBaseline, type BaselineOptions } from './baseline-run.js';
import { cleanUpRun } from './cleanup.js';
import type { MethodRun } from './method-run.js';
import { deployTargetEtcd } from './target-etcd.js';

async function mirrored(sourceEndpoints: string[], targetEndpoints: string[], marker: string): Promise<void> {
  const src = new Etcd3({ hosts: sourceEndpoints });
  const dst = new Etcd3({ hosts: targetEndpoints });
  try {
    const value = `${marker}-${Date.now()}`;
    await src.put(`bench/mirror-marker`).value(value);
    await waitFor(
      `the mirror to copy ${marker}`,
      async () => (await dst.get('bench/mirror-marker').string()) === value,
      { timeoutMs: 120_000, intervalMs: 100 },
    );
  } finally {
    src.close();
    dst.close();
  }
}

export async function runMakeMirror(opts: BaselineOptions = {}): Promise<MethodRun & { cutoverMs: number }> {
  const say = opts.say ?? (() => undefined);
  const start = await startBaseline('bench-mm', opts);
  const { replicas, etcd, src, ns, load } = start;
  try {
    const started = Date.now();
    const tgt = await deployTargetEtcd(ns, replicas, { waitForRestore: false, etcd });
    const mirror = spawn(
      etcdctl(etcd),
      ['--endpoints', src.endpoints.join(','), 'make-mirror', tgt.endpoints[0]!],
      { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let mirrorOutput = '';
    mirror.stdout.on('data', (d: Buffer) => (mirrorOutput += d.toString()));
    mirror.stderr.on('data', (d: Buffer) => (mirrorOutput += d.toString()));
    const exited = new Promise((r) => mirror.once('exit', r));
    try {
      await mirrored(src.endpoints, tgt.endpoints, 'caught-up');
      await load.warmUp(tgt.endpoints); // as the stretch's clients: connected before they switch
      await load.setEndpoints(tgt.endpoints); // acknowledged once the operation in flight has ended
      await mirrored(src.endpoints, tgt.endpoints, 'drained');
    } catch (err) {
      throw new Error(
        `${err instanceof Error ? err.message : String(err)}; make-mirror said: ${mirrorOutput.slice(-500)}`,
      );
    } finally {
      mirror.kill('SIGTERM');
      await exited;
    }
    const durationMs = Date.now() - started;
    const cutoverMs = durationMs;
    say(`${ns}: make-mirror done after ${(durationMs / 1000).toFixed(1)} s`);
    const { clients, fidelity } = await finishBaseline(start, tgt.endpoints, started);
    return {
      method: 'make-mirror',
      namespace: ns,
      outcome: 'completed',
      durationMs,
      cutoverMs,
      clients,
      fidelity,
    };
  } finally {
    await cleanUpRun(ns);
  }
}
