/**
 * The CLI's exit codes. `watch` and `start --watch` end with the run's outcome, each its own code,
 * so a script or CI job can tell a rollback (the source is as it was) from a failure after the
 * client switch (someone must look) without parsing the output.
 */
import type { RunState } from '../workflows/status.js';

export const EXIT = {
  /** Done; for `watch`: the migration completed. */
  ok: 0,
  /** The command could not do what it was asked: bad spec, refused start, Temporal unreachable. */
  error: 1,
  /** Wrong usage: unknown command or option, missing argument. */
  usage: 2,
  /** The run failed without a rollback (preflight refused, or a failure after the client switch). */
  failed: 3,
  /** A step failed before the client switch and the run rolled back. */
  rolledBack: 4,
  /** Aborted before the client switch and rolled back. */
  aborted: 5,
  /** Aborted after the client switch: stopped at a safe point. */
  stopped: 6,
  /** Ended without an outcome of its own: terminated, cancelled or timed out in Temporal. */
  terminated: 7,
} as const;

/** How a run ended: the workflow's final states, and `terminated` for a run Temporal ended. */
export type FinalState = Extract<RunState, 'completed' | 'failed' | 'rolled-back' | 'aborted' | 'stopped'>;
export type RunEnding = FinalState | 'terminated';

const FINAL_STATES: ReadonlySet<string> = new Set<FinalState>([
  'completed',
  'failed',
  'rolled-back',
  'aborted',
  'stopped',
]);

export function isFinalState(state: string): state is FinalState {
  return FINAL_STATES.has(state);
}

export function exitCodeForEnding(ending: RunEnding): number {
  switch (ending) {
    case 'completed':
      return EXIT.ok;
    case 'failed':
      return EXIT.failed;
    case 'rolled-back':
      return EXIT.rolledBack;
    case 'aborted':
      return EXIT.aborted;
    case 'stopped':
      return EXIT.stopped;
    case 'terminated':
      return EXIT.terminated;
  }
}
