/**
 * Rolling defragmentation (stretch-method step 1): followers one by one, then
 * move the leadership to an already defragmented member, then the former
 * leader; finally list the alarms and disarm NOSPACE.
 *
 * Resumable: every heartbeat carries the IDs already done, and a retried
 * activity attempt skips them (Temporal hands the last heartbeat to the next
 * attempt), so a worker crash does not defragment everything again.
 */
import type { EtcdConnection } from './connection.js';
import { InvalidRequest } from './errors.js';
import { observeAndGuard, voterNames } from './guarded.js';
import { defragment, disarmSpaceAlarms, moveLeader } from './maintenance.js';
import { listAlarms, observeCluster } from './observe.js';
import { noopRunContext, type RunContext } from '../run-context.js';
import type {
  DefragmentResult,
  RollingDefragmentInput,
  RollingDefragmentResult,
  RollingDefragmentStep,
  SizeSnapshot,
} from './types.js';

interface ResumeState {
  done: string[];
  leaderBefore?: string;
}

function resumeState(previous: unknown): ResumeState {
  const p: unknown = Array.isArray(previous) ? previous[0] : previous;
  if (p && typeof p === 'object' && 'rollingDefragment' in p) {
    const s = p.rollingDefragment;
    if (s && typeof s === 'object' && Array.isArray((s as ResumeState).done)) {
      const st = s as ResumeState;
      return {
        done: st.done.filter((x) => typeof x === 'string'),
        ...(st.leaderBefore ? { leaderBefore: st.leaderBefore } : {}),
      };
    }
  }
  return { done: [] };
}

function sum(xs: SizeSnapshot[]): SizeSnapshot {
  return xs.reduce((a, x) => ({ dbSize: a.dbSize + x.dbSize, dbSizeInUse: a.dbSizeInUse + x.dbSizeInUse }), {
    dbSize: 0,
    dbSizeInUse: 0,
  });
}

export async function rollingDefragment(
  conn: EtcdConnection,
  input: RollingDefragmentInput,
  rc: RunContext = noopRunContext,
): Promise<RollingDefragmentResult> {
  const state = resumeState(rc.previousHeartbeat);
  const { observation } = await observeAndGuard(conn, { kind: 'maintenance', operation: 'defragment' }, 0);
  const leaderId = observation.leaderId;
  if (!leaderId) throw new InvalidRequest('no leader observed'); // the guard refuses this already
  const voters = observation.endpoints.filter((e) => e.status && !e.status.isLearner);
  const leader = voters.find((e) => e.status?.id === leaderId);
  const followers = voters
    .filter((e) => e.status?.id !== leaderId)
    .sort((a, b) => a.name.localeCompare(b.name));
  const state0: ResumeState = { done: [...state.done], leaderBefore: state.leaderBefore ?? leaderId };
  const alarmsBefore = await listAlarms(conn, voterNames(observation));
  const totalBefore = sum(
    voters.map((v) => ({ dbSize: v.status?.dbSize ?? 0, dbSizeInUse: v.status?.dbSizeInUse ?? 0 })),
  );
  const steps: RollingDefragmentStep[] = [];
  const order: string[] = [];
  const beat = (detail: unknown): void => rc.heartbeat({ rollingDefragment: state0, detail });
  const inner: RunContext = { heartbeat: beat };
  const options = {
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    ...(input.minReclaimableBytes !== undefined ? { minReclaimableBytes: input.minReclaimableBytes } : {}),
  };
  const run = async (name: string, id: string): Promise<DefragmentResult | undefined> => {
    if (state0.done.includes(id)) {
      order.push(`skip ${name} (done by an earlier attempt)`);
      return undefined;
    }
    const result = await defragment(conn, { name, ...options }, inner);
    steps.push({ action: 'defragment', result });
    order.push(`${result.skipped ? 'skip' : 'defragment'} ${name}`);
    state0.done.push(id);
    beat({ finished: name });
    return result;
  };

  const defragmented: { name: string; id: string }[] = [];
  for (const f of followers) {
    const id = f.status?.id ?? '';
    const r = await run(f.name, id);
    if (r === undefined || !r.skipped) defragmented.push({ name: f.name, id });
  }
  if (leader?.status && !state0.done.includes(leader.status.id)) {
    const reclaimable = leader.status.dbSize - leader.status.dbSizeInUse;
    const leaderNeedsIt = !input.minReclaimableBytes || reclaimable >= input.minReclaimableBytes;
    const to = defragmented[0] ?? followers.map((f) => ({ name: f.name, id: f.status?.id ?? '' }))[0];
    if (leaderNeedsIt && to) {
      const moved = await moveLeader(conn, { target: { memberId: to.id } }, inner);
      steps.push({
        action: 'move-leader',
        from: moved.previousLeaderId,
        to: moved.leaderId,
        fromName: leader.name,
        toName: to.name,
      });
      order.push(`move-leader ${leader.name}->${to.name}`);
    }
    await run(leader.name, leader.status.id);
  }
  let alarmsAfter = alarmsBefore;
  if (input.disarmAlarms ?? true) {
    const d = await disarmSpaceAlarms(conn, voterNames(observation));
    for (const a of d.disarmed) {
      steps.push({ action: 'disarm-alarm', memberId: a.memberId, alarm: a.alarm });
      order.push(`disarm ${a.alarm} ${a.memberId}`);
    }
    alarmsAfter = d.after;
  }
  const after = await observeCluster(conn).catch(() => undefined);
  const totalAfter = after
    ? sum(
        after.endpoints
          .filter((e) => e.status && !e.status.isLearner)
          .map((e) => ({ dbSize: e.status?.dbSize ?? 0, dbSizeInUse: e.status?.dbSizeInUse ?? 0 })),
      )
    : { dbSize: -1, dbSizeInUse: -1 };
  return {
    leaderBefore: state0.leaderBefore ?? leaderId,
    leaderAfter: after?.leaderId ?? 'unknown',
    steps,
    order,
    alarmsBefore,
    alarmsAfter,
    totalBefore,
    totalAfter,
  };
}
