/** What every suite gets and returns. */
import type { EtcdMinor } from '../../test/helpers/tls-sources.js';

export interface SuiteContext {
  quick: boolean;
  reps: number;
  opsPerSecond: number;
  /** Suite-specific list (data sizes in MB, member counts, migrations at once). */
  sizes?: number[];
  /** overhead: analyse the stretch runs of this result file instead of running new ones. */
  from?: string;
  /** data-size: size of each value written to grow the backend, in KiB. */
  valueKiB?: number;
  /** data-size: the source etcd's --snapshot-count. */
  snapshotCount?: number;
  /** The etcd minor version of every cluster in the runs (default 3.4, the article's). */
  etcd?: EtcdMinor;
  /** wan: the round trips to add between the clusters, in ms. */
  rttsMs?: number[];
  /** The stretch runs' soak (default 5s; "0s" for none). */
  soak?: string;
  /** How long the clients run before each migration, their steady state (default 5 s). */
  steadyBeforeMs?: number;
  say: (line: string) => void;
}

export interface SuiteOutput {
  runs: unknown;
  table: string;
  notes?: string[];
  summary?: unknown;
}
