/**
 * How long a new learner takes to catch up, for a 1 MB and a 100 MB database,
 * on real etcd processes on this machine. A benchmark, not a test.
 *
 *   npx tsx bench/etcd-learner-catch-up.ts [version=3.4] [sizesMB=1,100] [repeat=1]
 *
 * For each size: a 3-member cluster, filled with unique keys (512 KiB values)
 * up to the size, then enough small writes that the leader's raft log no
 * longer starts at index 1 (etcd keeps 5000 entries after a snapshot), so the
 * learner has to receive the database as a raft snapshot, like a member
 * joining a long-running cluster. Then: addLearner, start the process,
 * waitForLearnerCatchUp (timed), promoteLearner (timed).
 * Results are printed and written to bench/results/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withConnection } from '../activities/etcd/connection.js';
import { addLearner, promoteLearner, waitForLearnerCatchUp } from '../activities/etcd/membership.js';
import { memberStatus } from '../activities/etcd/observe.js';
import { noopRunContext, type RunContext } from '../activities/run-context.js';
import { createSecretResolver } from '../activities/secret-ref.js';
import { ETCD_VERSIONS, EtcdTestCluster, type EtcdVersion } from '../test/helpers/etcd-cluster.js';

// Ctrl-C / timeout: exit normally so that the test helper's exit hook kills the etcd processes.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

const version = (process.argv[2] ?? '3.4') as EtcdVersion;
if (!ETCD_VERSIONS.includes(version)) throw new Error(`version must be one of ${ETCD_VERSIONS.join(', ')}`);
const sizesMB = (process.argv[3] ?? '1,100').split(',').map(Number);
const repeat = Number(process.argv[4] ?? '1');
const CHUNK = 512 * 1024;

interface Row {
  version: string;
  targetMB: number;
  dbSizeMB: number;
  dbSizeInUseMB: number;
  fillSeconds: number;
  viaSnapshot: boolean;
  /** From process start until waitForLearnerCatchUp saw the learner within the margin. */
  catchUpSeconds: number;
  /** From the learner's log: process start -> raft snapshot applied (the data transfer). */
  snapshotAppliedSeconds: number | null;
  /** From the learner's log: process start -> published to the cluster and serving clients. */
  servingSeconds: number | null;
  promoteSeconds: number;
  learnerApplied: number;
  leaderApplied: number;
  /** Set when the learner did not catch up within the deadline. */
  failure?: string;
  /** Lines "failed to publish local member ... too many requests" in the learner's log. */
  publishTooManyRequests?: number;
}

async function run(targetMB: number): Promise<Row> {
  const cluster = await EtcdTestCluster.start({
    version,
    extraArgs: [
      '--snapshot-count',
      '1000',
      '--log-level',
      'info',
      '--quota-backend-bytes',
      String(4 * 1024 ** 3),
    ],
  });
  try {
    const rc: RunContext = process.env.BENCH_DEBUG
      ? { heartbeat: (d) => console.log(Date.now() % 100000, JSON.stringify(d).slice(0, 250)) }
      : noopRunContext;
    const files = createSecretResolver();
    const names = ['etcd-0', 'etcd-1', 'etcd-2'];
    const client = cluster.client(names);
    const fillStart = Date.now();
    const value = Buffer.alloc(CHUNK, 7);
    const chunks = Math.max(1, Math.round((targetMB * 1024 * 1024) / CHUNK));
    for (let i = 0; i < chunks; i++) await client.put(`data/${String(i).padStart(6, '0')}`).value(value);
    // Push the leader's log past the 5000 entries etcd keeps after a snapshot.
    for (let i = 0; i < 5200; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => client.put(`tick/${(i + j) % 10}`).value('t')));
    }
    const fillSeconds = (Date.now() - fillStart) / 1000;
    const before = await withConnection(cluster.access(names), files, (conn) => memberStatus(conn, 'etcd-0'));

    const spec = await cluster.allocateMember('etcd-main-0');
    const added = await withConnection(cluster.access(names), files, (conn) =>
      addLearner(conn, { name: spec.name, peerURLs: [spec.peerUrl], requiredFaultTolerance: 1 }, rc),
    );
    const started = Date.now();
    cluster.startAddedMember(spec, added.initialCluster);
    const access = cluster.access([...names, spec.name], { timeoutMs: 10_000 });
    const learner = { memberId: added.member.id, name: spec.name };
    const caught = await withConnection(access, files, (conn) =>
      waitForLearnerCatchUp(conn, { member: learner, timeoutMs: 180_000, pollMs: 200 }, rc),
    ).catch((err: unknown) => err as Error);
    const catchUpSeconds = (Date.now() - started) / 1000;
    let promoteSeconds = -1;
    if (!(caught instanceof Error)) {
      const p0 = Date.now();
      await withConnection(access, files, (conn) =>
        promoteLearner(conn, { member: learner, requiredFaultTolerance: 1 }, rc),
      );
      promoteSeconds = (Date.now() - p0) / 1000;
    }
    const log = readFileSync(cluster.member(spec.name).logFile, 'utf8');
    const at = (msg: RegExp): number | null => {
      for (const line of log.split('\n')) {
        if (!msg.test(line)) continue;
        const ts = /"ts":"([^"]+)"/.exec(line)?.[1];
        if (ts) return Date.parse(ts);
      }
      return null;
    };
    const t0 = at(/"msg":"starting an etcd server"/);
    const since = (t: number | null): number | null =>
      t0 !== null && t !== null ? +((t - t0) / 1000).toFixed(2) : null;
    return {
      version,
      targetMB,
      dbSizeMB: +(before.dbSize / 1024 / 1024).toFixed(1),
      dbSizeInUseMB: +(before.dbSizeInUse / 1024 / 1024).toFixed(1),
      fillSeconds: +fillSeconds.toFixed(1),
      viaSnapshot: /received and saved database snapshot|applied incoming Raft snapshot/i.test(log),
      catchUpSeconds: +catchUpSeconds.toFixed(2),
      snapshotAppliedSeconds: since(at(/applied incoming Raft snapshot|applied snapshot/)),
      servingSeconds: since(at(/published local member to cluster through raft/)),
      promoteSeconds: +promoteSeconds.toFixed(2),
      learnerApplied: caught instanceof Error ? -1 : caught.learnerApplied,
      leaderApplied: caught instanceof Error ? -1 : caught.leaderApplied,
      ...(caught instanceof Error
        ? {
            failure: caught.message.slice(0, 200),
            publishTooManyRequests: (log.match(/failed to publish local member.*too many requests/g) ?? [])
              .length,
          }
        : {}),
    };
  } finally {
    await cluster.teardown();
  }
}

const rows: Row[] = [];
for (const mb of sizesMB) {
  for (let i = 0; i < repeat; i++) {
    const row = await run(mb);
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
console.table(rows);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', `etcd-learner-catch-up-${version}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2)}\n`);
console.log(`written to ${out}`);
