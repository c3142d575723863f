/**
 * `watch`: live progress until the run ends. On a terminal it redraws one screen (progress bar,
 * members with catch-up percentage, defragmentation, what the run waits for and who can approve);
 * otherwise (a pipe, a log file, CI) it prints a timestamped line whenever something changes,
 * then the final status.
 */
import type { Client } from '@temporalio/client';
import { statusQuery } from '../workflows/messages.js';
import type { MigrationStatus } from '../workflows/status.js';
import { runningSteps, type RunningStep } from './live-progress.js';
import { memberName, renderStatus, removedMembers } from './render-status.js';

const FINAL = new Set(['completed', 'aborted', 'rolled-back', 'stopped', 'failed']);

/** One line with everything that changes during a run; printed when it differs from the last. */
export function progressLine(s: MigrationStatus, running: RunningStep[] = []): string {
  const parts: string[] = [s.workflowState];
  if (s.phase) parts.push(`phase ${s.phase}`);
  if (s.step) parts.push(`step ${s.step.index + 1}/${s.step.total} ${s.step.id}`);
  if (s.waitingFor?.kind === 'approval') parts.push(`waiting for approval: ${s.waitingFor.gate}`);
  if (s.waitingFor?.kind === 'resume') parts.push(`paused by ${s.waitingFor.by}`);
  if (s.waitingFor?.kind === 'soak') parts.push(`soaking until ${s.waitingFor.until}`);
  if (s.waitingFor?.kind === 'dns') parts.push(`waiting for ${s.waitingFor.cluster} DNS`);
  if (s.members.length) {
    const members = s.members.map((m) => {
      const name = memberName(m, s);
      const c = running.find((r) => r.catchUp && r.catchUp.member.split('.')[0] === name)?.catchUp;
      return `${name}=${m.isLearner ? `learner${c ? ` ${c.percent}%` : ''}` : 'voter'}`;
    });
    members.push(...removedMembers(s).map((m) => `${m}=removed`));
    parts.push(`members ${members.join(' ')}`);
  }
  for (const r of running) {
    if (r.defragment)
      parts.push(`defragment ${r.defragment.member ?? '…'} (${r.defragment.doneMembers} done)`);
    if (r.attempt > 1) parts.push(`${r.activityType} attempt ${r.attempt}`);
  }
  if (s.compensations.length)
    parts.push(
      `rollback ${s.compensations.filter((c) => c.state === 'done').length}/${s.compensations.length}`,
    );
  return parts.join(' | ');
}

export interface WatchOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

export async function watchMigration(
  client: Client,
  id: string,
  intervalMs: number,
  out: WatchOutput = process.stdout,
): Promise<MigrationStatus> {
  const handle = client.workflow.getHandle(id);
  const namespace = client.options.namespace;
  const tty = Boolean(out.isTTY);
  let last = '';
  for (;;) {
    const s = await handle.query(statusQuery);
    const running = FINAL.has(s.workflowState)
      ? []
      : await handle
          .describe()
          .then(runningSteps)
          .catch(() => []);
    if (tty) {
      out.write('\x1b[H\x1b[2J' + renderStatus(id, s, { running, namespace }) + '\n');
    } else {
      const line = progressLine(s, running);
      if (line !== last) out.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    }
    if (FINAL.has(s.workflowState)) {
      if (!tty) out.write(renderStatus(id, s, { namespace }) + '\n');
      return s;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
