/**
 * `watch`: live progress until the run ends. On a terminal it redraws one screen (progress bar,
 * members with catch-up percentage, defragmentation, what the run waits for and who can approve);
 * otherwise (a pipe, a log file, CI) it prints a timestamped line whenever something changes,
 * then the final status and how the run ended. Its exit code says how (client/exit-codes.ts).
 */
import type { Client } from '@temporalio/client';
import { statusQuery } from '../workflows/messages.js';
import type { MigrationStatus } from '../workflows/status.js';
import { exitCodeForEnding, type RunEnding } from './exit-codes.js';
import { runningSteps, type RunningStep } from './live-progress.js';
import { memberName, renderStatus, removedMembers } from './render-status.js';
import { closedRunEnding } from './run-ending.js';

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

/** How long a worker has to replay a closed run for its final status (none: no status shown). */
const CLOSED_QUERY_TIMEOUT_MS = 5_000;

export interface WatchOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface WatchOptions {
  intervalMs: number;
  /** A run of the workflow ID (`start --watch`); absent: its latest run. */
  runId?: string;
  /** `json`: one JSON object a line (JSON Lines), a `progress` one per change, then an `end` one. */
  output?: 'text' | 'json';
  out?: WatchOutput;
}

export interface WatchResult {
  ending: RunEnding;
  exitCode: number;
  /** The last status the run reported; absent if it could not answer (no worker for a closed run). */
  status?: MigrationStatus;
  message?: string;
}

/**
 * Watches until the run closes in Temporal; its ending comes from Temporal (run-ending.ts), so a
 * run terminated while it waited at a gate ends the watch as well as one that finished.
 */
export async function watchMigration(client: Client, id: string, opts: WatchOptions): Promise<WatchResult> {
  const out = opts.out ?? process.stdout;
  const handle = client.workflow.getHandle(id, opts.runId);
  const namespace = client.options.namespace;
  const json = opts.output === 'json';
  const tty = !json && Boolean(out.isTTY);
  let last = '';
  for (;;) {
    const description = await handle.describe();
    const closed = await closedRunEnding(handle, description.status.name);
    // A closed run answers the query only if a worker replays it: its status is then optional.
    const s = closed
      ? await client.connection
          .withDeadline(Date.now() + CLOSED_QUERY_TIMEOUT_MS, () => handle.query(statusQuery))
          .catch(() => undefined)
      : await handle.query(statusQuery);
    const running = closed || !s || FINAL.has(s.workflowState) ? [] : runningSteps(description);
    if (s) {
      const line = progressLine(s, running);
      if (tty) {
        out.write('\x1b[H\x1b[2J' + renderStatus(id, s, { running, namespace }) + '\n');
      } else if (line !== last) {
        const at = new Date().toISOString();
        out.write(
          json
            ? JSON.stringify({
                type: 'progress',
                at,
                workflowId: id,
                runId: description.runId,
                state: s.workflowState,
                phase: s.phase,
                step: s.step,
                waitingFor: s.waitingFor,
                line,
              }) + '\n'
            : `${at} ${line}\n`,
        );
      }
      last = line;
    }
    if (closed) {
      const exitCode = exitCodeForEnding(closed.ending);
      if (json) {
        out.write(
          JSON.stringify({
            type: 'end',
            workflowId: id,
            runId: description.runId,
            ending: closed.ending,
            exitCode,
            message: closed.message,
            status: s,
          }) + '\n',
        );
      } else {
        if (s && !tty) out.write(renderStatus(id, s, { namespace }) + '\n');
        out.write(`${id}: ${endingLine(closed.ending)}${closed.message ? `: ${closed.message}` : ''}\n`);
      }
      return {
        ending: closed.ending,
        exitCode,
        ...(s ? { status: s } : {}),
        ...(closed.message ? { message: closed.message } : {}),
      };
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

const ENDING_WORDS: Record<RunEnding, string> = {
  completed: 'completed',
  failed: 'failed',
  'rolled-back': 'rolled back',
  aborted: 'aborted and rolled back',
  stopped: 'stopped at a safe point after the client switch',
  terminated: 'ended in Temporal without an outcome',
};

/** "rolled back (exit 4)": what the watch's exit code means, in its last line. */
export function endingLine(ending: RunEnding): string {
  return `${ENDING_WORDS[ending]} (exit ${exitCodeForEnding(ending)})`;
}
