/** The load client around a migration method, and what it saw: failures, write gaps, lost writes. */
import { Etcd3 } from 'etcd3';
import { checkHistory } from '../../test/helpers/history-checker.js';
import { readFinalValues } from '../../test/helpers/load-client.js';
import { RemoteLoadClient } from '../../test/helpers/remote-load-client.js';
import { writeGaps, type MigrationWindow, type WriteGaps } from './write-gaps.js';

export const CLIENT_NICE = -10;

export interface ClientOutcome {
  opsTotal: number;
  opsPerSecond: number;
  failedOps: number;
  indeterminateOps: number;
  maxWriteGapMs: number;
  /** The steady state before the migration against the migration, and where the longest gaps fell. */
  writeGaps?: WriteGaps;
  lostWrites: number;
  staleReads: number;
  violations: string[];
  firstFailures: string[];
  /** The load client process's niceness and its autogroup's (CLIENT_NICE when they could be set). */
  niceness?: { process: number; group?: number };
}

/**
 * The load client in a child process, as an application is not in the benchmark's process (whose
 * worker would delay its turns), connected to every endpoint before it starts; the child records
 * how late its own timers fire. It runs at a higher priority than the rest of the sandbox
 * (CLIENT_NICE): on these two cores it stands for an application on a node of its own.
 */
export async function startLoad(endpoints: string[], opsPerSecond: number): Promise<RemoteLoadClient> {
  const load = await RemoteLoadClient.launch({ endpoints, opsPerSecond, recordLag: true, nice: CLIENT_NICE });
  try {
    await load.warmUp();
    await load.start();
    return load;
  } catch (err) {
    load.close();
    throw err;
  }
}

/** Stops the load and checks its history against what the cluster it ended on holds. */
export async function finishLoad(
  load: RemoteLoadClient,
  migration?: MigrationWindow,
): Promise<ClientOutcome> {
  const niceness = load.niceness();
  await load.stop();
  const lags = load.lags;
  const reader = new Etcd3({ hosts: load.currentEndpoints() });
  let finalValues: Map<string, string | undefined>;
  try {
    finalValues = await readFinalValues(reader, load.history);
  } finally {
    reader.close();
    load.close();
  }
  const check = checkHistory(load.history, finalValues);
  const s = load.summary();
  return {
    opsTotal: s.opsTotal,
    opsPerSecond: s.opsPerSecond,
    failedOps: s.failedOps,
    indeterminateOps: s.indeterminateOps,
    maxWriteGapMs: s.maxWriteGapMs,
    ...(migration ? { writeGaps: writeGaps(load.history, migration, 3, lags) } : {}),
    lostWrites: check.lostWrites,
    staleReads: check.staleReads,
    violations: check.violations.slice(0, 5),
    firstFailures: s.firstFailures,
    ...(niceness === undefined ? {} : { niceness }),
  };
}
