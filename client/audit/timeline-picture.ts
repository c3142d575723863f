/**
 * A text picture of a run's timeline: one bar per phase and per gate wait, on a common time
 * axis from the run's start to its end (or its last known moment). Pure; monospace text.
 */
import type { AuditReport } from './model.js';

const WIDTH = 48;

/** `formatDuration` formats a duration in ms (document.ts's formatDuration). */
export function timelinePicture(r: AuditReport, formatDuration: (ms: number | null) => string): string {
  const start = Date.parse(r.startedAt);
  const moments = [
    r.closedAt,
    ...r.phases.flatMap((p) => [p.startedAt, p.endedAt]),
    ...r.gates.flatMap((g) => [g.reachedAt, g.passedAt]),
  ]
    .filter((t): t is string => typeof t === 'string')
    .map((t) => Date.parse(t));
  const end = Math.max(start + 1, ...moments);
  const col = (ms: number) => Math.min(WIDTH - 1, Math.floor(((ms - start) / (end - start)) * WIDTH));
  const bar = (from: string, to: string | null | undefined, fill: string) => {
    const a = col(Date.parse(from));
    const b = to ? col(Date.parse(to)) : WIDTH - 1;
    return ' '.repeat(a) + fill.repeat(Math.max(1, b - a + 1)) + ' '.repeat(Math.max(0, WIDTH - 1 - b));
  };
  const rows: [string, string, string][] = [];
  for (const p of r.phases) {
    rows.push([`phase ${p.name}`, bar(p.startedAt, p.endedAt, '█'), formatDuration(p.durationMs)]);
    for (const g of r.gates.filter((x) => x.phase === p.name && x.mode !== 'auto'))
      rows.push([
        `  gate ${g.gate}`,
        bar(g.reachedAt, g.passedAt, '░'),
        `waited ${formatDuration(g.waitedMs)}`,
      ]);
  }
  if (rows.length === 0) return 'no phase was entered';
  const label = Math.max(...rows.map(([l]) => l.length));
  const axis = `${' '.repeat(label)} |${r.startedAt.slice(11, 19)}${' '.repeat(WIDTH - 16)}${new Date(end).toISOString().slice(11, 19)}|`;
  return [
    axis,
    ...rows.map(([l, b, d]) => `${l.padEnd(label)} |${b}| ${d}`),
    '',
    '█ phase   ░ waiting for approval at the gate that opens it (UTC)',
  ].join('\n');
}
