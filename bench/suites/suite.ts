/** What every suite gets and returns. */
export interface SuiteContext {
  quick: boolean;
  reps: number;
  opsPerSecond: number;
  /** Suite-specific list (data sizes in MB, member counts, migrations at once). */
  sizes?: number[];
  say: (line: string) => void;
}

export interface SuiteOutput {
  runs: unknown;
  table: string;
  notes?: string[];
  summary?: unknown;
}
