/** `watch`: redraws the status on a terminal; prints only changes (plain lines) otherwise. */
import type { Client } from '@temporalio/client';
import { statusQuery } from '../workflows/messages.js';
import type { MigrationStatus } from '../workflows/status.js';
import { renderStatus } from './render-status.js';

const FINAL = new Set(['completed', 'aborted', 'rolled-back', 'stopped', 'failed']);

function headline(s: MigrationStatus): string {
  const wait =
    s.waitingFor?.kind === 'approval'
      ? ` (waiting for approval: ${s.waitingFor.gate})`
      : s.waitingFor?.kind === 'resume'
        ? ' (paused)'
        : '';
  return `${s.workflowState} ${s.phase ?? ''} ${s.step ? `${s.step.index + 1}/${s.step.total} ${s.step.id}` : ''}${wait}`.trim();
}

export async function watchMigration(client: Client, id: string, intervalMs: number): Promise<void> {
  const handle = client.workflow.getHandle(id);
  const tty = process.stdout.isTTY;
  let last = '';
  for (;;) {
    const s = await handle.query(statusQuery);
    if (tty) {
      process.stdout.write('\x1b[H\x1b[2J' + renderStatus(id, s) + '\n');
    } else {
      const line = headline(s);
      if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    }
    if (FINAL.has(s.workflowState)) {
      if (!tty) process.stdout.write(renderStatus(id, s) + '\n');
      return;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
