import { createHash } from 'node:crypto';

/** A short name for one Corefile's content, for the log and the tests that read it. */
export function corefileDigest(corefile: string): string {
  return createHash('sha256').update(corefile).digest('hex').slice(0, 12);
}

/**
 * The Corefile the pods' DNS answers from. A changed kube-system/coredns ConfigMap reaches a
 * real CoreDNS only after the kubelet syncs the mounted file and the `reload` plugin notices
 * it; here each change applies `delayS` seconds after the node agent first saw it. Changes
 * apply in the order they were seen (a change never overtakes the one before it).
 */
export class DelayedCorefile {
  private current?: string;
  private lastSeen?: string;
  private readonly pending: { corefile: string; applyAt: number }[] = [];

  constructor(
    private readonly log: (msg: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Corefile the pods see now ('' before the first observation). */
  get applied(): string {
    return this.current ?? '';
  }

  /** Takes the ConfigMap's Corefile as read now; returns whether the applied one changed. */
  observe(live: string, delayS: number): boolean {
    const now = this.now();
    if (this.current === undefined) {
      // What CoreDNS was already serving when the agent started.
      this.current = this.lastSeen = live;
      return true;
    }
    if (live !== this.lastSeen) {
      this.lastSeen = live;
      this.pending.push({ corefile: live, applyAt: now + Math.max(0, delayS) * 1000 });
      this.log(`CoreDNS Corefile ${corefileDigest(live)} seen; the pods' DNS follows in ${delayS} s`);
    }
    let changed = false;
    while (this.pending[0] && this.pending[0].applyAt <= now) {
      const { corefile } = this.pending.shift()!;
      changed ||= corefile !== this.current;
      this.current = corefile;
      this.log(`CoreDNS Corefile ${corefileDigest(corefile)} applied to the pods' DNS`);
    }
    return changed;
  }

  /** Milliseconds until the next pending change is due, if any. */
  nextDueInMs(): number | undefined {
    const head = this.pending[0];
    return head ? Math.max(0, head.applyAt - this.now()) : undefined;
  }
}
