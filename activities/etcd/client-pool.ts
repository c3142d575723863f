/**
 * etcd clients kept between the activities of a worker.
 *
 * Each activity opened a gRPC channel to every member and closed it at its end. A channel's
 * first call costs its connection and HTTP/2 setup: measured against six local members, an
 * observation took 32-58 ms on new channels and 15-27 ms on open ones, and a migration makes
 * about twenty such steps. A client that answered every call is kept for the next connection
 * to the same member with the same credentials, for IDLE_MS; one whose call failed is closed
 * (its channel may be backing off, or its member gone), so the next step starts afresh.
 */
import { createHash } from 'node:crypto';
import type { Etcd3 } from 'etcd3';

/** How long an unused client is kept. Short: a step follows the one before within seconds. */
export const IDLE_MS = 10_000;
/** Clients kept per member and credentials: steps that run at the same time each hold one. */
const KEPT_PER_KEY = 2;

interface Kept {
  client: Etcd3;
  timer: NodeJS.Timeout;
}

export class EtcdClientPool {
  private readonly kept = new Map<string, Kept[]>();

  constructor(private readonly idleMs = IDLE_MS) {}

  /** A hash of what a member's channel authenticates with (TLS material, user, deadline). */
  static keyOf(parts: Record<string, unknown>): string {
    return createHash('sha256')
      .update(JSON.stringify(parts, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v)))
      .digest('hex');
  }

  /** A kept client for `key`, now the caller's; undefined when none is kept. */
  take(key: string): Etcd3 | undefined {
    const list = this.kept.get(key);
    const k = list?.pop();
    if (list?.length === 0) this.kept.delete(key);
    if (!k) return undefined;
    clearTimeout(k.timer);
    return k.client;
  }

  /** Hands a client back: kept when it answered every call, else closed. */
  give(key: string, client: Etcd3, healthy: boolean): void {
    const list = this.kept.get(key) ?? [];
    if (!healthy || list.length >= KEPT_PER_KEY) {
      client.close();
      return;
    }
    const entry: Kept = {
      client,
      timer: setTimeout(() => {
        const now = this.kept.get(key);
        const i = now?.indexOf(entry) ?? -1;
        if (i >= 0) now!.splice(i, 1);
        if (now?.length === 0) this.kept.delete(key);
        client.close();
      }, this.idleMs).unref(),
    };
    list.push(entry);
    this.kept.set(key, list);
  }

  /** Clients kept now (for tests). */
  get size(): number {
    let n = 0;
    for (const list of this.kept.values()) n += list.length;
    return n;
  }

  closeAll(): void {
    for (const list of this.kept.values())
      for (const k of list) {
        clearTimeout(k.timer);
        k.client.close();
      }
    this.kept.clear();
  }
}
