/**
 * What the two baseline methods share: the source etcd with its fidelity fixture under the load
 * client, an empty target namespace of the same name, and at the end the clients' outcome and the
 * fidelity check on the new cluster after a steady period.
 */
import type { RemoteLoadClient } from '../../test/helpers/remote-load-client.js';
import type { EtcdMinor } from '../../test/helpers/tls-sources.js';
import { clusterClient, type ClusterClient } from '../../test/helpers/kube.js';
import { finishLoad, startLoad, type ClientOutcome } from './client-load.js';
import { cleanUpRun } from './cleanup.js';
import { failedFidelity, STEADY_BEFORE_MS, STEADY_MS } from './method-run.js';
import {
  checkFidelity,
  deploySourceEtcd,
  writeFidelityFixture,
  type FidelityCheck,
  type FidelityFixture,
  type SourceEtcd,
} from './source-etcd.js';

export interface BaselineOptions {
  replicas?: number;
  opsPerSecond?: number;
  keys?: number;
  /** The etcd minor version of both clusters (default 3.4, the article's). */
  etcd?: EtcdMinor;
  /** How long the clients run on the source before the migration: their steady state (default 5 s). */
  steadyBeforeMs?: number;
  say?: (line: string) => void;
}

export interface BaselineStart {
  replicas: number;
  etcd: EtcdMinor;
  target: ClusterClient;
  src: SourceEtcd;
  ns: string;
  fixture: FidelityFixture;
  load: RemoteLoadClient;
}

/** Source etcd (pods named `prefix`-...) with the fixture, target namespace, load client running. */
export async function startBaseline(prefix: string, opts: BaselineOptions): Promise<BaselineStart> {
  const replicas = opts.replicas ?? 3;
  const target = clusterClient('target');
  const etcd = opts.etcd ?? '3.4';
  const src = await deploySourceEtcd(clusterClient('source'), {
    replicas,
    keys: opts.keys ?? 500,
    prefix,
    etcd,
  });
  const ns = src.namespace;
  try {
    await target.core.createNamespace({ body: { metadata: { name: ns } } });
    const fixture = await writeFidelityFixture(src.endpoints);
    const load = await startLoad(src.endpoints, opts.opsPerSecond ?? 150);
    await new Promise((r) => setTimeout(r, opts.steadyBeforeMs ?? STEADY_BEFORE_MS));
    return { replicas, etcd, target, src, ns, fixture, load };
  } catch (err) {
    await cleanUpRun(ns);
    throw err;
  }
}

/**
 * The clients stay on the new cluster for STEADY_MS, then: their outcome (the migration from
 * `startedAt` to now) and the data's fidelity.
 */
export async function finishBaseline(
  start: BaselineStart,
  newEndpoints: string[],
  startedAt: number,
): Promise<{ clients: ClientOutcome; fidelity: FidelityCheck }> {
  const endedAt = Date.now();
  await new Promise((r) => setTimeout(r, STEADY_MS));
  const clients = await finishLoad(start.load, { from: startedAt, to: endedAt });
  const fidelity = await checkFidelity(newEndpoints, start.fixture).catch(failedFidelity);
  return { clients, fidelity };
}
