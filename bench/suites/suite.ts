/** What every suite gets and returns. */
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
  /** The stretch runs' soak (default 5s; "0s" for none). */
  soak?: string;
  say: (line: string) => void;
}

export interface SuiteOutput {
  runs: unknown;
  table: string;
  notes?: string[];
  summary?: unknown;
}
