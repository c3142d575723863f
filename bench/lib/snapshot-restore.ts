/**
 * Baseline: `etcdctl snapshot save` from a source member, copy, `etcdctl snapshot restore` into
 * the volume of each member of a fresh target StatefulSet, switch the clients. The target pods
 * exist first (their IPs are the new endpoints): the clients are pointed at them before the
 * snapshot, so no write lands in the source after it, and wait until the restored cluster answers.
 * The host reaches both clusters' pod IPs and volumes: it stands in for a jump host.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { etcdctl, waitFor } from '../../test/helpers/kube.js';
import { toolPath } from '../../sandbox/config.js';
import { finishBaseline, startBaseline, type BaselineOptions } from './baseline-run.js';
import { cleanUpRun } from './cleanup.js';
import type { MethodRun } from './method-run.js';
import { dataDirOf, deployTargetEtcd, initialCluster, TARGET_STS } from './target-etcd.js';

const execFileAsync = promisify(execFile);

export interface SnapshotRestoreRun extends MethodRun {
  /** From pointing the clients at the new members to the restored cluster accepting a write. */
  downtimeMs: number;
  /** Within the downtime: snapshot save, restore of every member, etcd start until serving. */
  snapshotMs: number;
  restoreMs: number;
  startMs: number;
  snapshotBytes: number;
}

export async function runSnapshotRestore(opts: BaselineOptions = {}): Promise<SnapshotRestoreRun> {
  const say = opts.say ?? (() => undefined);
  const start = await startBaseline('bench-sr', opts);
  const { replicas, etcd, target, src, ns, load } = start;
  // etcd 3.6 restores only with etcdutl (3.5 has both).
  const restoreTool = etcd === '3.4' ? etcdctl('3.4') : toolPath(`etcdutl-${etcd}`);
  const snapshotFile = path.join(os.tmpdir(), `bench-${ns}.db`);
  try {
    const started = Date.now();
    const tgt = await deployTargetEtcd(ns, replicas, { waitForRestore: true, etcd });
    const dataDirs = await Promise.all(tgt.pods.map((p) => dataDirOf(target, ns, p.metadata!.name!)));
    const switchedAt = Date.now();
    await load.setEndpoints(tgt.endpoints); // acknowledged once the operation in flight has ended
    await execFileAsync(etcdctl(etcd), ['--endpoints', src.endpoints[0]!, 'snapshot', 'save', snapshotFile], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    const snapshotBytes = fs.statSync(snapshotFile).size;
    const snapshotMs = Date.now() - switchedAt;
    await Promise.all(
      tgt.pods.map(async (p, i) => {
        const name = p.metadata!.name!;
        const staging = path.join(dataDirs[i]!, '.restore');
        await execFileAsync(
          restoreTool,
          [
            'snapshot',
            'restore',
            snapshotFile,
            '--name',
            name,
            '--initial-cluster',
            initialCluster(replicas),
            '--initial-cluster-token',
            `${TARGET_STS}-bench`,
            '--initial-advertise-peer-urls',
            `http://${name}.${TARGET_STS}:2380`,
            '--data-dir',
            staging,
          ],
          { env: { ...process.env, ETCDCTL_API: '3' } },
        );
        fs.renameSync(path.join(staging, 'member'), path.join(dataDirs[i]!, 'member'));
        fs.rmSync(staging, { recursive: true, force: true });
      }),
    );
    const restoreMs = Date.now() - switchedAt - snapshotMs;
    // A fresh client per try: a client's circuit breaker would hold it off for 5 s after a refusal.
    await waitFor(
      'the restored cluster to accept writes',
      async () => {
        const probe = new Etcd3({ hosts: tgt.endpoints, dialTimeout: 500 });
        try {
          return await probe
            .put('bench/probe')
            .value('1')
            .then(() => true);
        } finally {
          probe.close();
        }
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const durationMs = Date.now() - started;
    const downtimeMs = Date.now() - switchedAt;
    const startMs = downtimeMs - snapshotMs - restoreMs;
    say(
      `${ns}: snapshot-restore serving after ${(durationMs / 1000).toFixed(1)} s (clients waited ${(downtimeMs / 1000).toFixed(1)} s: snapshot ${snapshotMs} ms, restore ${restoreMs} ms, start ${startMs} ms)`,
    );
    const { clients, fidelity } = await finishBaseline(start, tgt.endpoints, started);
    return {
      method: 'snapshot-restore',
      namespace: ns,
      outcome: 'completed',
      durationMs,
      downtimeMs,
      snapshotMs,
      restoreMs,
      startMs,
      snapshotBytes,
      clients,
      fidelity,
    };
  } finally {
    fs.rmSync(snapshotFile, { force: true });
    await cleanUpRun(ns);
  }
}
