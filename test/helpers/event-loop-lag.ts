/**
 * How late a process's timers fire: a write gap can be the load client's own turn coming late
 * rather than etcd's answer. A 10 ms ticker records each delay over a floor, with when it ended.
 */
export interface LagSample {
  /** When the late tick ran (ms since the epoch). */
  at: number;
  /** How late it was. */
  ms: number;
}

const TICK_MS = 10;
const FLOOR_MS = 15;

export class EventLoopLag {
  readonly samples: LagSample[] = [];
  private timer?: NodeJS.Timeout;

  start(): this {
    let due = Date.now() + TICK_MS;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - due > FLOOR_MS) this.samples.push({ at: now, ms: now - due });
      due = now + TICK_MS;
    }, TICK_MS);
    this.timer.unref();
    return this;
  }

  stop(): LagSample[] {
    clearInterval(this.timer);
    return this.samples;
  }
}

/** The longest delay that overlaps [from, to]. */
export function longestLag(samples: LagSample[], from: number, to: number): number {
  return samples.reduce((m, s) => (s.at - s.ms < to && s.at > from ? Math.max(m, s.ms) : m), 0);
}
