/** What every method reports, so that the methods table can put them side by side. */
import type { ClientOutcome } from './client-load.js';
import type { FidelityCheck } from './source-etcd.js';

export type MethodName = 'stretch' | 'snapshot-restore' | 'make-mirror';

export interface MethodRun {
  method: MethodName;
  namespace: string;
  outcome: string;
  /** From the method's first action to the clients served by the new cluster (stretch: the workflow's end). */
  durationMs: number;
  clients: ClientOutcome;
  fidelity: FidelityCheck;
  error?: string;
}

export const failedFidelity = (err: unknown): FidelityCheck => ({
  revisionsPreserved: false,
  leasesPreserved: false,
  details: [err instanceof Error ? err.message : String(err)],
});

/** The clients run this long on the source before a method starts: their steady state to compare with. */
export const STEADY_BEFORE_MS = 5000;

/** The clients keep running this long on the new cluster before the run ends (like the stretch's soak). */
export const STEADY_MS = 5000;
