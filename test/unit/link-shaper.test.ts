import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  DirectionPacer,
  PACING_SLICE_BYTES,
  RETRANSMISSION_TIMEOUT_MS,
  ShapedPipe,
  UNSHAPED,
  type Clock,
} from '../../sandbox/node-agent/link-shaper.js';
import type { LinkShape } from '../../sandbox/topology.js';

const shape = (s: Partial<LinkShape>): LinkShape => ({ ...UNSHAPED, ...s });

/** A clock the test moves by hand; timers run when it passes their time. */
class ManualClock implements Clock {
  private t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, x]) => x.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

/** Random numbers from a list, in turn. */
function sequence(...xs: number[]): () => number {
  let i = 0;
  return () => xs[i++ % xs.length]!;
}

describe('DirectionPacer', () => {
  it('holds every chunk half the round trip', () => {
    const p = new DirectionPacer();
    expect(p.departure(1000, 100, shape({ rttMs: 40 }))).toBe(1020);
    expect(p.departure(1005, 100, shape({ rttMs: 40 }))).toBe(1025);
  });

  it('adds jitter in [0, jitterMs] and never lets a chunk overtake the one before it', () => {
    const p = new DirectionPacer(sequence(0.9, 0));
    const first = p.departure(0, 10, shape({ rttMs: 20, jitterMs: 10 }));
    expect(first).toBe(19);
    // Drawn jitter 0 would let this chunk leave at 11; it waits for the first.
    const second = p.departure(1, 10, shape({ rttMs: 20, jitterMs: 10 }));
    expect(second).toBe(19);
  });

  it('delivers a "lost" chunk one retransmission timeout late, and what follows waits for it', () => {
    // Each chunk draws one number for loss: 0.001 (0.1 % < 1 %) is lost, 0.5 is not.
    const p = new DirectionPacer(sequence(0.001, 0.5, 0.001, 0.5, 0.5));
    const lossy = shape({ rttMs: 10, lossPercent: 1 });
    expect(p.departure(0, 10, lossy)).toBe(5 + RETRANSMISSION_TIMEOUT_MS);
    expect(p.departure(1, 10, lossy)).toBe(5 + RETRANSMISSION_TIMEOUT_MS);
    expect(p.departure(500, 10, lossy)).toBe(505 + RETRANSMISSION_TIMEOUT_MS);
    expect(p.departure(501, 10, lossy)).toBe(505 + RETRANSMISSION_TIMEOUT_MS);
    expect(p.departure(1000, 10, lossy)).toBe(1005);
  });

  it('paces bytes to the bandwidth: 125 000 bytes take 10 ms at 100 Mbit/s', () => {
    const p = new DirectionPacer();
    const link = shape({ bandwidthMbit: 100 });
    const times = [0, 0, 0].map(() => p.departure(0, 125_000, link));
    expect(times).toEqual([10, 20, 30]);
    // An idle link starts from the arrival again.
    expect(p.departure(100, 12_500, link)).toBe(101);
  });

  it('adds serialisation and propagation', () => {
    const p = new DirectionPacer();
    expect(p.departure(0, 125_000, shape({ rttMs: 20, bandwidthMbit: 100 }))).toBe(20);
  });

  it('leaves chunks unpaced without a bandwidth and adds the fault hook delay', () => {
    const p = new DirectionPacer();
    expect(p.departure(7, 1e9, UNSHAPED)).toBe(7);
    expect(p.departure(8, 10, UNSHAPED, 300)).toBe(308);
  });
});

describe('ShapedPipe', () => {
  function pipe(link: LinkShape, highWaterBytes = 1 << 20) {
    const clock = new ManualClock();
    const from = new PassThrough();
    const to = new PassThrough({ highWaterMark: 1 << 30 });
    const received: { at: number; text: string }[] = [];
    to.on('data', (c: Buffer) => received.push({ at: clock.now(), text: c.toString() }));
    const p = new ShapedPipe(from, to, { shape: () => link, clock, highWaterBytes });
    return { clock, from, to, received, p };
  }
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it('delivers each chunk after the one-way delay, in order', async () => {
    const { clock, from, received } = pipe(shape({ rttMs: 100 }));
    from.write('a');
    await tick();
    clock.advance(10);
    from.write('b');
    await tick();
    clock.advance(39);
    await tick();
    expect(received).toEqual([]);
    clock.advance(1);
    await tick();
    expect(received).toEqual([{ at: 50, text: 'a' }]);
    clock.advance(10);
    await tick();
    expect(received.map((r) => [r.at, r.text])).toEqual([
      [50, 'a'],
      [60, 'b'],
    ]);
  });

  it('passes chunks straight through on an unshaped link', async () => {
    const { from, received } = pipe(UNSHAPED);
    from.write('now');
    await tick();
    expect(received).toEqual([{ at: 0, text: 'now' }]);
  });

  it('stops reading while the queue is above the high-water mark and resumes once it drained', async () => {
    const { clock, from, p } = pipe(shape({ bandwidthMbit: 8 }), 3 * PACING_SLICE_BYTES);
    // 8 Mbit/s is 1000 bytes per millisecond.
    from.write(Buffer.alloc(4 * PACING_SLICE_BYTES));
    await tick();
    expect(from.isPaused()).toBe(true);
    expect(p.pending).toBe(4 * PACING_SLICE_BYTES);
    clock.advance(Math.ceil((3 * PACING_SLICE_BYTES) / 1000));
    await tick();
    expect(p.pending).toBe(PACING_SLICE_BYTES);
    expect(from.isPaused()).toBe(false);
  });

  it('ends the destination only after the last queued chunk left', async () => {
    const { clock, from, to, received } = pipe(shape({ rttMs: 20 }));
    let ended = false;
    to.on('end', () => (ended = true));
    from.end('last');
    await tick();
    expect(ended).toBe(false);
    clock.advance(10);
    await tick();
    await tick();
    expect(received.map((r) => r.text)).toEqual(['last']);
    expect(ended).toBe(true);
  });
});
