/** Phase `finalize`: the new StatefulSet's `--initial-cluster` lists the new members only; then the soak (if any). */
import { formatDuration, parseDuration } from '../../spec/duration.js';
import { initialCluster } from '../members.js';
import type { PlanBuilder } from '../plan-builder.js';
import type { PlanContext } from './context.js';

export function planFinalize(b: PlanBuilder, { spec, newMembers }: PlanContext): void {
  const { target } = spec;
  b.add(
    'finalize',
    target.statefulSet,
    { kind: 'finalize-target', initialCluster: initialCluster(newMembers) },
    `rewrite ${target.statefulSet}'s --initial-cluster to the new members only (no pod restarts)`,
  );
  const soakMs = parseDuration(spec.soak) ?? 0;
  // A soak of 0 is no step at all: a zero timer still costs the run a round trip to the server.
  if (soakMs <= 0) return;
  b.add(
    'finalize',
    undefined,
    { kind: 'soak', duration: spec.soak, ms: soakMs },
    `soak: let the new cluster run alone for ${formatDuration(soakMs)}`,
  );
}
