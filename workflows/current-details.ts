/**
 * The run's "current details" for the Web UI (Temporal markdown, read through the SDK's metadata
 * query): its state and phase, the step it is at, and what it waits for.
 */
import type { MigrationStatus, WaitingFor } from './status.js';

export function currentDetails(status: MigrationStatus): string {
  const lines = [`**${status.workflowState}**${status.phase ? ` in phase **${status.phase}**` : ''}`];
  if (status.step) lines.push(`step ${status.step.index + 1}/${status.step.total}: ${status.step.title}`);
  const undoing = status.compensations.findIndex((c) => c.startedAt !== undefined && c.endedAt === undefined);
  if (status.workflowState === 'rolling-back' && undoing >= 0)
    lines.push(`undo ${undoing + 1}/${status.compensations.length}: ${status.compensations[undoing]!.title}`);
  if (status.waitingFor) lines.push(`waiting for ${waitingForText(status.waitingFor)}`);
  if (status.error) lines.push(`error: ${status.error}`);
  return lines.join('\n\n');
}

export function waitingForText(w: WaitingFor): string {
  switch (w.kind) {
    case 'approval':
      return `approval at gate **${w.gate}** since ${w.since}: ${w.how}`;
    case 'resume':
      return `resume (paused by ${w.by} since ${w.since}${w.reason ? `: ${w.reason}` : ''})`;
    case 'soak':
      return `the soak to end at ${w.until}`;
    case 'activity':
      return `${w.step} since ${w.since}`;
    case 'dns':
      return `the ${w.cluster} cluster's DNS to answer ${w.pending.join(', ')} (since ${w.since})`;
    case 'forward':
      return `run ${w.workflowId} to finish the migration that made the source (its old members ${w.members.join(', ')} leave; since ${w.since})`;
  }
}
