/**
 * Preflight's checks of the source etcd beyond health and membership: the members hold the same
 * data (hashKV at one revision), the target's etcd version is one etcd lets join the source,
 * and a warning for a 3.4 source without pre-vote. The decisions are pure; `hashKvCheck` and
 * `sourceHashKvCheck` make the calls they decide on.
 */
import type { V1Container } from '@kubernetes/client-node';
import { withConnection, type EtcdConnection } from '../etcd/connection.js';
import { messageOf } from '../etcd/errors.js';
import { hashKV } from '../etcd/observe.js';
import type { ClusterObservation, EndpointObservation, EtcdAccess, HashKVResult } from '../etcd/types.js';
import { booleanFlag } from '../kubernetes/etcd-flags.js';
import { etcdVersionOf } from '../kubernetes/validate-target.js';
import { heartbeatEvery, resolveRunContext, sleep } from '../run-context.js';
import type { SecretResolver } from '../secret-ref.js';

/** Major and minor version. */
export type MinorVersion = [number, number];

/** Major and minor of a version etcd reports (`3.4.18`, `v3.5.17`), if readable. */
export function minorVersion(version: string): MinorVersion | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function compare(a: MinorVersion, b: MinorVersion): number {
  return a[0] - b[0] || a[1] - b[1];
}

const show = (v: MinorVersion) => v.join('.');

/** The members' versions as they report them, where readable. */
function memberVersions(
  endpoints: readonly EndpointObservation[],
): { name: string; version: MinorVersion }[] {
  return endpoints.flatMap((e) => {
    const version = minorVersion(e.status?.version ?? '');
    return version ? [{ name: e.name, version }] : [];
  });
}

/**
 * Can a member of the target image's etcd version join the source? etcd admits a member of the
 * cluster's version (the lowest its members run) or of the next minor version, any patch
 * release: an older member is refused (no downgrade), and so is one more than one minor
 * version newer (etcd 3.6 joins 3.5 clusters, not 3.4 ones). A target older than 3.4 is left
 * to the learners check (validateMigrationPreconditions refuses it); a tag without a version
 * is a warning.
 */
export function targetVersionCheck(
  targetImage: string,
  endpoints: readonly EndpointObservation[],
): { refusals: string[]; warnings: string[] } {
  const members = memberVersions(endpoints);
  const lowest = members.map((m) => m.version).sort(compare)[0];
  const target = etcdVersionOf(targetImage);
  if (!target) {
    const allowed = lowest
      ? `${show(lowest)} or ${show([lowest[0], lowest[1] + 1])}`
      : 'the same minor version';
    return {
      refusals: [],
      warnings: [
        `cannot read an etcd version from the tag of image ${targetImage}: the new members need etcd >= 3.4 (learners) and etcd admits only members of ${allowed} into the source cluster; make sure the image is one of those`,
      ],
    };
  }
  if (!lowest || compare(target, [3, 4]) < 0) return { refusals: [], warnings: [] };
  const at = members
    .filter((m) => compare(m.version, lowest) === 0)
    .map((m) => m.name)
    .join(', ');
  const next: MinorVersion = [lowest[0], lowest[1] + 1];
  const fix = `set target.image to etcd ${show(lowest)} or ${show(next)}`;
  if (compare(target, lowest) < 0) {
    return {
      refusals: [
        `image ${targetImage} is etcd ${show(target)}, older than the source's etcd ${show(lowest)} (${at}): etcd refuses a member older than its cluster (no downgrade); ${fix}`,
      ],
      warnings: [],
    };
  }
  if (compare(target, next) > 0) {
    return {
      refusals: [
        `image ${targetImage} is etcd ${show(target)}, more than one minor version above the source's etcd ${show(lowest)} (${at}): etcd ${show(target)} refuses to join a ${show(lowest)} cluster; ${fix} (upgrade one minor version at a time)`,
      ],
      warnings: [],
    };
  }
  return { refusals: [], warnings: [] };
}

/**
 * etcd 3.4 runs without pre-vote unless told (3.5 and later turn it on): a member cut off for a
 * moment, which a stretch over two clusters makes likelier, forces a leader election when it
 * is back. A warning when members run 3.4 and the source's etcd container does not turn it on.
 */
export function preVoteWarning(
  container: V1Container | undefined,
  endpoints: readonly EndpointObservation[],
): string | undefined {
  const on34 = memberVersions(endpoints)
    .filter((m) => compare(m.version, [3, 4]) === 0)
    .map((m) => m.name);
  if (on34.length === 0 || !container) return undefined;
  const flag = booleanFlag(container, 'pre-vote');
  // On, or a value only the pod resolves (`--pre-vote=$PRE_VOTE`): nothing to say.
  if (flag && flag.value !== false) return undefined;
  const how = !flag
    ? 'without --pre-vote'
    : `with pre-vote off (${flag.where === 'env' ? `ETCD_PRE_VOTE=${flag.text}` : `--pre-vote=${flag.text}`})`;
  return `etcd members ${on34.join(', ')} run etcd 3.4 ${how} (3.4 leaves it off, 3.5 and later turn it on): a member cut off by a blip of the cross-cluster links forces a leader election when it comes back; consider restarting the old members with --pre-vote=true (or ETCD_PRE_VOTE=true) before the migration`;
}

/**
 * Refusals for a hashKV result: members whose data differs (they hash differently at one
 * revision) and members that could not be hashed. With a majority of agreeing members the ones
 * that differ are named; without one, every member is.
 */
export function hashKvRefusals(hash: HashKVResult): string[] {
  const refusals = hash.errors.map(
    (e) =>
      `cannot read hashKV of etcd member ${e.name} at revision ${hash.revision}: ${e.error}; every member must answer hashKV before the migration (it compares their data)`,
  );
  const groups = new Map<string, string[]>();
  for (const h of hash.hashes) {
    const key = `${h.hash}/${h.compactRevision}`;
    groups.set(key, [...(groups.get(key) ?? []), h.name]);
  }
  if (groups.size <= 1) return refusals;
  const compacted = new Set(hash.hashes.map((h) => h.compactRevision)).size > 1;
  const values = hash.hashes
    .map((h) => `${h.name} ${h.hash}${compacted ? ` (compacted at ${h.compactRevision})` : ''}`)
    .join(', ');
  const largest = [...groups.values()].sort((a, b) => b.length - a.length)[0]!;
  if (largest.length * 2 > hash.hashes.length) {
    const differ = hash.hashes.map((h) => h.name).filter((n) => !largest.includes(n));
    const one = differ.length === 1;
    refusals.push(
      `etcd member${one ? '' : 's'} ${differ.join(', ')} disagree${one ? 's' : ''} with ${largest.join(', ')} on hashKV at revision ${hash.revision} (${values}): ${one ? 'its' : 'their'} data differs from the other members'; replace ${one ? 'that member' : 'them'} (etcdctl member remove, clear the data dir, add ${one ? 'it' : 'them'} back) before the migration`,
    );
  } else {
    refusals.push(
      `etcd members disagree on hashKV at revision ${hash.revision} and no majority agrees (${values}): their data differs; find out which copy is right and repair the cluster before the migration`,
    );
  }
  return refusals;
}

/**
 * hashKV of every voter of the connection at one revision, and the refusals it makes. A
 * disagreement is checked once more at a new revision first: a compaction that some members have
 * applied and others not yet makes their hashes differ for a moment.
 */
export async function hashKvCheck(
  conn: EtcdConnection,
  retryAfterMs = 1000,
): Promise<{ hash: HashKVResult; refusals: string[] }> {
  let hash = await hashKV(conn);
  if (!hash.agree) {
    await sleep(retryAfterMs);
    hash = await hashKV(conn);
  }
  return { hash, refusals: hashKvRefusals(hash) };
}

/**
 * hashKV of the source's voters that the observation found healthy (the others are refused
 * already); nothing to compare with fewer than two. Heartbeats while they hash.
 */
export async function sourceHashKvCheck(
  access: EtcdAccess,
  secrets: SecretResolver,
  obs: ClusterObservation,
): Promise<{ hash?: HashKVResult; refusals: string[] }> {
  const voters = obs.endpoints
    .filter((e) => e.reachable && e.health?.healthy && e.status && !e.status.isLearner)
    .map((e) => e.name)
    .filter((n) => access.endpoints[n] !== undefined);
  if (voters.length < 2) return { refusals: [] };
  const endpoints = Object.fromEntries(voters.map((n) => [n, access.endpoints[n]!]));
  const started = Date.now();
  const stop = heartbeatEvery(resolveRunContext(), 2_000, () => ({
    preflight: 'hashKV',
    members: voters,
    elapsedMs: Date.now() - started,
  }));
  try {
    return await withConnection({ ...access, endpoints }, secrets, (c) => hashKvCheck(c));
  } catch (err) {
    return {
      refusals: [
        `cannot compare hashKV of etcd members ${voters.join(', ')}: ${messageOf(err)}; every member must answer hashKV before the migration (it compares their data)`,
      ],
    };
  } finally {
    stop();
  }
}
