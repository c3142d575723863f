/**
 * The workflow ID of a migration, derived from its source and target: the same StatefulSet moved
 * to the same place always gets the same ID, so Temporal refuses a second start while a run is
 * open (and `watch <id>` can be typed from the spec). A run that ended does not block a new one.
 */
import type { MigrationSpec } from './spec/schema.js';

export const WORKFLOW_ID_PREFIX = 'etcd-stretch-';
/** Longer IDs are cut and carry a hash of what was cut; Temporal allows 1000 bytes, people fewer. */
export const MAX_READABLE_ID = 120;

type End = MigrationSpec['source'];

function where(end: Pick<End, 'context' | 'namespace' | 'statefulSet'>): string {
  return `${end.context}.${end.namespace}.${end.statefulSet}`;
}

/** Characters that stay as they are: safe in a shell, a URL path and a file name (audit reports). */
const UNSAFE = /[^A-Za-z0-9._-]/g;

/**
 * `etcd-stretch-<context>.<namespace>.<statefulSet>-to-<context>.<namespace>.<statefulSet>`. A name
 * with other characters (`gke_project_zone_name`, `arn:aws:eks:...`) has them replaced by `-` and
 * the ID gets a short hash of the exact names, so two sources that read alike stay apart; so does
 * an ID cut to MAX_READABLE_ID.
 */
export function migrationWorkflowId(spec: {
  source: Pick<End, 'context' | 'namespace' | 'statefulSet'>;
  target: Pick<End, 'context' | 'namespace' | 'statefulSet'>;
}): string {
  const exact = `${where(spec.source)}-to-${where(spec.target)}`;
  const readable = exact.replace(UNSAFE, '-');
  if (readable === exact && WORKFLOW_ID_PREFIX.length + exact.length <= MAX_READABLE_ID)
    return WORKFLOW_ID_PREFIX + exact;
  const hash = fnv1a64(
    JSON.stringify([spec.source, spec.target].map((e) => [e.context, e.namespace, e.statefulSet])),
  )
    .toString(16)
    .padStart(16, '0')
    .slice(0, 10);
  const room = MAX_READABLE_ID - WORKFLOW_ID_PREFIX.length - hash.length - 1;
  return `${WORKFLOW_ID_PREFIX}${readable.slice(0, room)}-${hash}`;
}

/** FNV-1a (64-bit) of the UTF-8 bytes: pure, so core/ stays free of Node modules; not for secrets. */
function fnv1a64(text: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash;
}
