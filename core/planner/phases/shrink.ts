/** Phase `shrink` (spec.shrink.enabled): compact, then defragment the old members one at a time. */
import { names, type PlanContext } from './context.js';
import type { PlanBuilder } from '../plan-builder.js';

export function planShrink(b: PlanBuilder, { spec, oldMembers, n }: PlanContext): void {
  if (!spec.shrink.enabled) return;
  b.add(
    'shrink',
    undefined,
    { kind: 'compact', keepRevisions: spec.shrink.keepRevisions },
    `compact to the current revision - ${spec.shrink.keepRevisions}`,
  );
  b.add(
    'shrink',
    undefined,
    { kind: 'rolling-defragment', members: oldMembers.map((o) => o.name) },
    n === 1
      ? `defragment ${names(oldMembers)} (the only member: it blocks while defragmenting)`
      : `defragment ${names(oldMembers)} one at a time, followers first, the leader last after moving leadership${reclaimNote(spec.shrink.minReclaimableBytes)}`,
  );
}

function reclaimNote(minBytes: number | undefined): string {
  if (!minBytes) return '';
  const size = minBytes % 1048576 === 0 ? `${minBytes / 1048576} MiB` : `${minBytes} bytes`;
  return `; only members with at least ${size} free after compaction`;
}
