/** The load client around a migration method, and what it saw: failures, write gaps, lost writes. */
import { Etcd3 } from 'etcd3';
import { checkHistory } from '../../test/helpers/history-checker.js';
import { LoadClient, readFinalValues } from '../../test/helpers/load-client.js';
import { writeGaps, type MigrationWindow, type WriteGaps } from './write-gaps.js';

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
}

export function startLoad(endpoints: string[], opsPerSecond: number): LoadClient {
  const load = new LoadClient({ endpoints, opsPerSecond });
  load.start();
  return load;
}

/** Stops the load and checks its history against what the cluster it ended on holds. */
export async function finishLoad(load: LoadClient, migration?: MigrationWindow): Promise<ClientOutcome> {
  await load.stop();
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
    ...(migration ? { writeGaps: writeGaps(load.history, migration) } : {}),
    lostWrites: check.lostWrites,
    staleReads: check.staleReads,
    violations: check.violations.slice(0, 5),
    firstFailures: s.firstFailures,
  };
}
