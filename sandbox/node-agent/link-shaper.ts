/**
 * The link between the two sandbox clusters, shaped inside the load-balancer proxy (this
 * kernel has no `netem` qdisc). Every chunk a proxy relays across the link is held back by
 * half the round trip plus jitter, paced to the link's bandwidth, and sometimes "lost".
 *
 * A TCP-level proxy cannot drop bytes: the kernels on both sides already acknowledged them.
 * So loss shows as what TCP makes of a lost segment: the data arrives one retransmission
 * timeout late, and everything behind it waits too (order is kept).
 */
import type { Readable, Writable } from 'node:stream';
import type { LinkShape } from '../topology.js';

/** Linux's minimum retransmission timeout (TCP_RTO_MIN). */
export const RETRANSMISSION_TIMEOUT_MS = 200;
/** Larger chunks are paced in slices of this size, so a 64 KiB read does not leave as one burst. */
export const PACING_SLICE_BYTES = 16 * 1024;
/** Queued bytes per direction above which the proxy stops reading from the sender. */
export const HIGH_WATER_BYTES = 2 * 1024 * 1024;

export const UNSHAPED: LinkShape = { rttMs: 0, jitterMs: 0, lossPercent: 0, bandwidthMbit: 0 };

export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** When each chunk of one direction of one connection may leave the proxy. */
export class DirectionPacer {
  private wireFreeAt = -Infinity;
  private lastDeparture = -Infinity;

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * Departure time of `bytes` received at `now`: serialised behind the bytes before them at
   * the link's rate, then delayed one way (half the round trip, jitter, a retransmission
   * timeout if "lost", plus `extraDelayMs`), and never before the chunk ahead of them.
   */
  departure(now: number, bytes: number, shape: LinkShape, extraDelayMs = 0): number {
    // X Mbit/s is X * 1000 bits per millisecond.
    const serialization = shape.bandwidthMbit > 0 ? (bytes * 8) / (shape.bandwidthMbit * 1000) : 0;
    const sent = Math.max(now, this.wireFreeAt) + serialization;
    this.wireFreeAt = sent;
    let delay = shape.rttMs / 2 + extraDelayMs;
    if (shape.jitterMs > 0) delay += this.random() * shape.jitterMs;
    if (shape.lossPercent > 0 && this.random() * 100 < shape.lossPercent) delay += RETRANSMISSION_TIMEOUT_MS;
    const at = Math.max(sent + delay, this.lastDeparture);
    this.lastDeparture = at;
    return at;
  }
}

export interface ShapedPipeOptions {
  /** Read per chunk, so a changed topology reaches connections already open. */
  shape: () => LinkShape;
  extraDelayMs?: () => number;
  clock?: Clock;
  random?: () => number;
  highWaterBytes?: number;
}

/**
 * Relays `from` to `to` through the link: chunks wait in a queue until their departure time,
 * `from` is paused while the queue is above the high-water mark or `to` wants a drain, and
 * `to` is ended once `from` ended and the queue is empty.
 */
export class ShapedPipe {
  private readonly queue: { at: number; chunk: Buffer }[] = [];
  private queuedBytes = 0;
  private timer: unknown;
  private waitingForDrain = false;
  private ended = false;
  private endSent = false;
  private stopped = false;
  private readonly pacer: DirectionPacer;
  private readonly clock: Clock;
  private readonly highWater: number;
  private flushed: (() => void)[] = [];

  constructor(
    private readonly from: Readable,
    private readonly to: Writable,
    private readonly opts: ShapedPipeOptions,
  ) {
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    this.pacer = new DirectionPacer(opts.random);
    this.highWater = opts.highWaterBytes ?? HIGH_WATER_BYTES;
    from.on('data', (chunk: Buffer) => this.receive(chunk));
    from.on('end', () => {
      this.ended = true;
      this.settle();
    });
    to.on('drain', () => {
      this.waitingForDrain = false;
      this.deliver();
    });
  }

  /** Bytes received and not yet handed to `to`. */
  get pending(): number {
    return this.queuedBytes;
  }

  /** Calls `fn` once every byte received so far has been handed to `to`. */
  whenFlushed(fn: () => void): void {
    if (this.queue.length === 0) fn();
    else this.flushed.push(fn);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const shape = this.opts.shape();
    const extra = this.opts.extraDelayMs?.() ?? 0;
    for (let off = 0; off < chunk.length; off += PACING_SLICE_BYTES) {
      const part = chunk.subarray(off, off + PACING_SLICE_BYTES);
      this.queue.push({ at: this.pacer.departure(now, part.length, shape, extra), chunk: part });
      this.queuedBytes += part.length;
    }
    this.deliver();
  }

  private deliver(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    while (!this.waitingForDrain && this.queue[0] && this.queue[0].at <= now) {
      const { chunk } = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      if (!this.to.write(chunk)) this.waitingForDrain = true;
    }
    this.settle();
  }

  private settle(): void {
    if (this.stopped) return;
    if (this.queue.length === 0) {
      for (const fn of this.flushed.splice(0)) fn();
      if (this.ended) {
        if (!this.endSent) this.to.end();
        this.endSent = true;
        return;
      }
    }
    const full = this.queuedBytes >= this.highWater || this.waitingForDrain;
    if (full && !this.from.isPaused()) this.from.pause();
    else if (!full && this.from.isPaused() && this.queuedBytes < this.highWater / 2) this.from.resume();
    const head = this.queue[0];
    if (head && !this.waitingForDrain && this.timer === undefined) {
      this.timer = this.clock.setTimeout(
        () => {
          this.timer = undefined;
          this.deliver();
        },
        Math.max(0, head.at - this.clock.now()),
      );
    }
  }
}
