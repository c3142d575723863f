/** Plain-text rendering of the workflow's status query, for `status` and `watch`. */
import type { MigrationStatus } from '../workflows/status.js';
import type { RunningStep } from './live-progress.js';

const MARK: Record<string, string> = { done: '✔', running: '▶', failed: '✘', undone: '↺', pending: '·' };

/** Members the run has taken out of the cluster: removals done, and learners its rollback removed. */
export function removedMembers(s: MigrationStatus): string[] {
  const present = new Set(s.members.map((m) => m.name));
  const removed = (s.plan?.steps ?? [])
    .filter((p) => p.kind === 'remove-member' && p.state === 'done')
    .map((p) => p.id.split('/')[1] ?? p.id);
  const undone = (s.plan?.steps ?? [])
    .filter((p) => p.kind === 'add-learner' && p.state === 'undone')
    .map((p) => p.id.split('/')[1] ?? p.id);
  return [...new Set([...removed, ...undone])].filter((m) => !present.has(m));
}

/**
 * A learner that has not started yet has no name in etcd's member list: it is the member the
 * current join step adds (one learner at a time).
 */
const JOIN_STEPS = new Set(['add-learner', 'scale-target', 'await-catch-up', 'promote']);

export function memberName(m: MigrationStatus['members'][number], s: MigrationStatus): string {
  if (m.name) return m.name;
  const [phase, subject, kind] = s.step?.id.split('/') ?? [];
  const joining = phase === 'join' && subject && JOIN_STEPS.has(kind ?? '');
  return m.isLearner && joining ? subject : `(unnamed ${m.id})`;
}

function catchUpOf(name: string, running: RunningStep[]): string {
  const c = running.find((r) => r.catchUp && r.catchUp.member.split('.')[0] === name);
  return c?.catchUp
    ? ` catching up ${c.catchUp.percent}% (${c.catchUp.learnerApplied}/${c.catchUp.leaderApplied})`
    : '';
}

/** "approve: ..." for a waiting gate: who may, and how. */
export function approvalHint(id: string, gate: string, namespace: string): string {
  return `who can approve: anyone allowed to signal workflows in Temporal namespace "${namespace}" (etcd-stretch approve ${id} ${gate}, temporal workflow signal --workflow-id ${id} --name approve --input '{"gate":"${gate}","by":"<you>"}', or the Web UI's "Send a Signal")`;
}

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} steps`;
}

export interface RenderOptions {
  running?: RunningStep[];
  namespace?: string;
}

export function renderStatus(id: string, s: MigrationStatus, opts: RenderOptions = {}): string {
  const running = opts.running ?? [];
  const lines: string[] = [];
  const step = s.step ? ` — step ${s.step.index + 1}/${s.step.total}: ${s.step.title}` : '';
  lines.push(`${id}: ${s.workflowState}${s.phase ? `, phase ${s.phase}` : ''}${step}`);
  if (s.plan) {
    const done = s.plan.steps.filter((p) => p.state === 'done').length;
    lines.push(progressBar(done, s.plan.steps.length));
  }
  if (s.waitingFor) {
    const w = s.waitingFor;
    lines.push(
      w.kind === 'approval'
        ? `waiting for approval of gate "${w.gate}" since ${w.since}: ${w.how}`
        : w.kind === 'resume'
          ? `paused by ${w.by}${w.reason ? ` (${w.reason})` : ''}: resume to go on`
          : w.kind === 'soak'
            ? `soaking until ${w.until}`
            : w.kind === 'dns'
              ? `waiting since ${w.since} until the ${w.cluster} cluster's DNS answers ${w.pending.join(', ')}`
              : w.kind === 'forward'
                ? `waiting since ${w.since} for run ${w.workflowId} to finish the migration that made the source (${w.members.join(', ')} leave): watch it with etcd-stretch watch ${w.workflowId}`
                : `running ${w.step}`,
    );
    if (w.kind === 'approval') lines.push(approvalHint(id, w.gate, opts.namespace ?? 'default'));
  }
  for (const r of running) {
    const retry =
      r.attempt > 1 ? ` attempt ${r.attempt}${r.lastFailure ? `, last failure: ${r.lastFailure}` : ''}` : '';
    const defrag = r.defragment
      ? ` defragmenting ${r.defragment.member ?? '…'}${r.defragment.elapsedMs !== undefined ? ` for ${Math.round(r.defragment.elapsedMs / 1000)} s` : ''}, ${r.defragment.doneMembers} member(s) done`
      : '';
    if (retry || defrag) lines.push(`running ${r.activityType}:${defrag}${retry}`);
  }
  if (s.members.length) {
    lines.push('members:');
    for (const m of s.members) {
      const leader = s.lastEvidence?.leader === m.name ? ' (leader)' : '';
      const health = s.lastEvidence?.health[m.name] === false ? ' UNHEALTHY' : '';
      const name = memberName(m, s);
      const role = m.isLearner
        ? `learner${m.name ? '' : ' (not started)'}${catchUpOf(name, running)}`
        : 'voter';
      lines.push(`  ${name.padEnd(16)} ${m.side.padEnd(7)} ${m.id.padEnd(20)} ${role}${leader}${health}`);
    }
    for (const name of removedMembers(s)) lines.push(`  ${name.padEnd(16)} removed`);
  }
  const hk = s.lastEvidence?.hashKv;
  if (hk) lines.push(`hashKV at revision ${hk.revision}: ${hk.agree ? 'all members agree' : 'MISMATCH'}`);
  if (s.lastGuard) lines.push(`last guard verdict: ${s.lastGuard.summary}`);
  if (s.plan) {
    lines.push('plan:');
    for (const p of s.plan.steps) {
      const t = p.after;
      lines.push(
        `  ${MARK[p.state] ?? '?'} ${p.id.padEnd(44)} voters ${t.voters.old.length}+${t.voters.new.length} learners ${t.learners.new.length} q${t.quorum} ft${t.faultTolerance}${p.note ? `  ${p.note}` : ''}`,
      );
    }
    for (const w of s.plan.warnings) lines.push(`warning: ${w}`);
  }
  for (const a of s.approvals.filter((x) => x.mode === 'manual'))
    lines.push(`approved ${a.gate} by ${a.by} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`);
  for (const c of s.compensations) lines.push(`undo ${c.state}: ${c.title}${c.error ? ` (${c.error})` : ''}`);
  // A rollback that went past undos that could not run: what to delete by hand there.
  for (const [cluster, objects] of Object.entries(s.leftBehind?.objects ?? {}))
    for (const o of objects) lines.push(`left behind in ${cluster}: ${o}`);
  for (const m of s.leftBehind?.members ?? []) lines.push(`left behind in the etcd cluster: member ${m}`);
  if (s.error) lines.push(`error: ${s.error}`);
  return lines.join('\n');
}
