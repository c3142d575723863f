/** Plain-text rendering of the workflow's status query, for `status` and `watch`. */
import type { MigrationStatus } from '../workflows/status.js';

const MARK: Record<string, string> = { done: '✔', running: '▶', failed: '✘', undone: '↺', pending: '·' };

export function renderStatus(id: string, s: MigrationStatus): string {
  const lines: string[] = [];
  const step = s.step ? ` — step ${s.step.index + 1}/${s.step.total}: ${s.step.title}` : '';
  lines.push(`${id}: ${s.workflowState}${s.phase ? `, phase ${s.phase}` : ''}${step}`);
  if (s.waitingFor) {
    const w = s.waitingFor;
    lines.push(
      w.kind === 'approval'
        ? `waiting for approval of gate "${w.gate}" since ${w.since}: ${w.how}`
        : w.kind === 'resume'
          ? `paused by ${w.by}${w.reason ? ` (${w.reason})` : ''}: resume to go on`
          : w.kind === 'soak'
            ? `soaking until ${w.until}`
            : `running ${w.step}`,
    );
  }
  if (s.members.length) {
    lines.push('members:');
    for (const m of s.members) {
      const leader = s.lastEvidence?.leader === m.name ? ' (leader)' : '';
      const health = s.lastEvidence?.health[m.name] === false ? ' UNHEALTHY' : '';
      lines.push(
        `  ${m.name.padEnd(16)} ${m.isLearner ? 'learner' : 'voter  '} ${m.side.padEnd(7)} ${m.id}${leader}${health}`,
      );
    }
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
  if (s.error) lines.push(`error: ${s.error}`);
  return lines.join('\n');
}
