/** One side's part of the verify-consistency evidence (hashKvOnSide): small, for the history. */
import type { SideHashKv, Side } from '../../core/activity-contract.js';
import type { EtcdConnection } from '../etcd/connection.js';
import { hashKV, type HashKVOptions } from '../etcd/observe.js';
import type { RunContext } from '../run-context.js';

/**
 * hashKV of the voters of `conn`'s endpoint map (the side's members this worker reaches) at
 * `revision` (absent: the current one). A member of `members` without an endpoint is reported as
 * an error, as one that did not answer is, so the workflow sees every member it asked about.
 */
export async function sideHashKv(
  conn: EtcdConnection,
  input: { side: Side; members: readonly string[]; revision?: number },
  options: Omit<HashKVOptions, 'revision'>,
  rc: RunContext,
): Promise<SideHashKv> {
  const { side, members, revision } = input;
  const r = await hashKV(conn, revision === undefined ? options : { ...options, revision }, rc);
  const errors: Record<string, string> = Object.fromEntries(r.errors.map((e) => [e.name, e.error]));
  for (const m of members)
    if (!conn.names.includes(m)) errors[m] = `no endpoint: the ${side} worker found no pod IP for it`;
  return {
    side,
    revision: r.revision,
    hashes: Object.fromEntries(r.hashes.map((h) => [h.name, String(h.hash)])),
    ...(Object.keys(errors).length ? { errors } : {}),
  };
}
