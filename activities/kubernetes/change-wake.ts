/**
 * Wakes a poll as soon as the API server reports a change to the kind of object it waits on.
 *
 * A wait (a pod to start or stop, a load balancer's address) polls the API; between two polls
 * it sleeps up to a second, first 100 ms. A watch of the namespace's objects of that kind ends
 * the sleep at the next change, so the poll sees a pod terminating within milliseconds rather
 * than at the next tick. The watch only wakes the poll, which still decides: a watch that
 * fails, or closes, leaves the poll as it was (it is opened again a second later; not when
 * the worker may not watch, as with an RBAC granted before the `watch` verb was needed).
 */
import { Watch } from '@kubernetes/client-node';
import type { KubeSide } from './clients.js';

export type WatchedKind = 'pods' | 'services';

export interface ChangeWake {
  /** Changes reported so far (each watch event counts one, the initial listing too). */
  readonly changes: number;
  /** Resolves once more than `seen` changes were reported, or the wake is stopped. */
  after(seen: number): Promise<void>;
  stop(): void;
}

const REOPEN_AFTER_MS = 1000;

export function wakeOnChanges(side: KubeSide, kind: WatchedKind): ChangeWake {
  let changes = 0;
  let stopped = false;
  let waiters: (() => void)[] = [];
  let controller: AbortController | undefined;
  let reopen: NodeJS.Timeout | undefined;
  const wakeAll = (): void => {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };
  const open = (): void => {
    if (stopped) return;
    const closed = (err?: unknown): void => {
      controller = undefined;
      // Not allowed to watch (an RBAC without the verb): the poll alone, as before.
      const status = (err as { statusCode?: number } | null)?.statusCode;
      if (status === 401 || status === 403 || status === 404) return;
      if (!stopped) reopen = setTimeout(open, REOPEN_AFTER_MS).unref();
    };
    new Watch(side.clients.kc)
      .watch(
        `/api/v1/namespaces/${encodeURIComponent(side.namespace)}/${kind}`,
        {},
        () => {
          changes++;
          wakeAll();
        },
        closed,
      )
      .then((c) => {
        controller = c;
        if (stopped) c.abort();
      }, closed);
  };
  open();
  return {
    get changes() {
      return changes;
    },
    after(seen) {
      if (stopped || changes > seen) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    stop() {
      stopped = true;
      clearTimeout(reopen);
      controller?.abort();
      wakeAll();
    },
  };
}
