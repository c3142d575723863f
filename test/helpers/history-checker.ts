/**
 * Checks what the load client saw against what the cluster holds at the end:
 * - every acknowledged write is present (or overwritten by a later write to the same key);
 * - per key, reads never go backwards, and never miss a write acknowledged before they started;
 * - no read returns a value that was never written.
 */
import type { Operation } from './load-client.js';

export interface CheckResult {
  lostWrites: number;
  staleReads: number;
  backwardsReads: number;
  phantomReads: number;
  violations: string[];
}

const seqOf = (value: string | undefined): number =>
  value && /^v\d+$/.test(value) ? Number(value.slice(1)) : -1;

export function checkHistory(
  history: Operation[],
  finalValues: Map<string, string | undefined>,
): CheckResult {
  const violations: string[] = [];
  const puts = new Map<number, Operation>();
  for (const op of history) if (op.type === 'put') puts.set(op.seq, op);

  let lostWrites = 0;
  const lastAcked = new Map<string, Operation>();
  for (const op of history) {
    if (op.type === 'put' && op.outcome === 'ok') {
      const prev = lastAcked.get(op.key);
      if (!prev || prev.seq < op.seq) lastAcked.set(op.key, op);
    }
  }
  for (const [key, put] of lastAcked) {
    const final = finalValues.get(key);
    const finalSeq = seqOf(final);
    const finalPut = puts.get(finalSeq);
    if (finalSeq < put.seq || !finalPut || finalPut.key !== key || finalPut.outcome === 'failed') {
      lostWrites++;
      violations.push(`lost write: ${key}=${put.value} acknowledged, found ${final ?? '(absent)'}`);
    }
  }

  let staleReads = 0;
  let backwardsReads = 0;
  let phantomReads = 0;
  const lastReadSeq = new Map<string, number>();
  for (const op of history) {
    if (op.type !== 'get' || op.outcome !== 'ok') continue;
    const seq = seqOf(op.value);
    if (op.value !== undefined) {
      const put = puts.get(seq);
      if (!put || put.key !== op.key || put.outcome === 'failed') {
        phantomReads++;
        violations.push(`read of a value never written: ${op.key}=${op.value}`);
        continue;
      }
    }
    const before = history.filter(
      (w) => w.type === 'put' && w.key === op.key && w.outcome === 'ok' && w.end < op.start,
    );
    const mustSee = Math.max(-1, ...before.map((w) => w.seq));
    if (seq < mustSee) {
      staleReads++;
      violations.push(
        `stale read: ${op.key} returned ${op.value ?? '(absent)'} after v${mustSee} was acknowledged`,
      );
    }
    const prev = lastReadSeq.get(op.key) ?? -1;
    if (seq < prev) {
      backwardsReads++;
      violations.push(`read went backwards: ${op.key} v${prev} then ${op.value ?? '(absent)'}`);
    }
    lastReadSeq.set(op.key, Math.max(prev, seq));
  }
  return { lostWrites, staleReads, backwardsReads, phantomReads, violations };
}
