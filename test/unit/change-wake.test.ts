/**
 * A wait's watch (change-wake.ts) against a local HTTP server that plays the API server's watch
 * endpoint: each event wakes the wait, a closed watch is opened again, stop ends it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wakeOnChanges } from '../../activities/kubernetes/change-wake.js';
import type { KubeSide } from '../../activities/kubernetes/clients.js';
import { waitUntil } from '../../activities/kubernetes/pods.js';
import { noopRunContext } from '../../activities/run-context.js';
import { waitFor } from '../../sandbox/processes.js';

let server: http.Server;
/** Watch requests answered 403. */
let forbidden = 0;
/** The open watch requests, newest last: path and the response to stream events on. */
const watches: { url: string; res: http.ServerResponse; closed: boolean }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.includes('/namespaces/forbidden/')) {
      forbidden++;
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end('{"kind":"Status","reason":"Forbidden"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const w = { url: req.url ?? '', res, closed: false };
    res.on('close', () => (w.closed = true));
    watches.push(w);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function side(namespace = 'ns-1'): KubeSide {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    side: 'source',
    context: 'x',
    namespace,
    clients: { context: 'x', kc, core: {} as CoreV1Api } as KubeSide['clients'],
  };
}

const event = (name: string) =>
  `${JSON.stringify({ type: 'MODIFIED', object: { kind: 'Pod', metadata: { name } } })}\n`;

/** Awaits a condition of the server's side (a request seen, a connection closed). */
function until<T>(what: string, value: () => T | undefined): Promise<T> {
  return waitFor(what, () => Promise.resolve(value()), { timeoutMs: 5000, intervalMs: 20 });
}

const openWatches = () => watches.filter((w) => !w.closed);

describe('wakeOnChanges', () => {
  it('wakes at each change, opens a closed watch again, and stops', async () => {
    const before = watches.length;
    const wake = wakeOnChanges(side(), 'pods');
    const first = await until('the watch request', () => watches[before]);
    expect(first.url).toMatch(/^\/api\/v1\/namespaces\/ns-1\/pods\?watch=true/);

    let woken = false;
    const woke = wake.after(0).then(() => (woken = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(woken).toBe(false);
    first.res.write(event('etcd-0'));
    await woke;
    expect(wake.changes).toBe(1);
    // Already past `seen`: at once.
    await wake.after(0);

    // The server ends the watch (as it does after its timeout): a new one is opened.
    first.res.end();
    const second = await until('the watch opened again', () => watches[before + 1]);
    const again = wake.after(1);
    second.res.write(event('etcd-1'));
    await again;
    expect(wake.changes).toBe(2);

    wake.stop();
    await until('the watch closed', () => second.closed || undefined);
    // A stopped wake holds no one.
    await wake.after(99);
    expect(openWatches().filter((w) => watches.indexOf(w) >= before)).toEqual([]);
  });

  it('leaves the poll alone when the worker may not watch (no reopening)', async () => {
    const wake = wakeOnChanges(side('forbidden'), 'pods');
    await until('the refused watch', () => forbidden === 1 || undefined);
    // Longer than the reopening delay (1 s) of a watch that merely closed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(forbidden).toBe(1);
    expect(wake.changes).toBe(0);
    wake.stop();
  });

  it('ends the sleep of a wait at the change it waits for, and closes its watch', async () => {
    const before = watches.length;
    let state = 'running';
    let looks = 0;
    const done = waitUntil(
      noopRunContext,
      'a pod to stop',
      600_000,
      () => {
        looks++;
        return Promise.resolve(state === 'terminating' ? state : undefined);
      },
      // A 60 s poll: only the watch can end the wait within the test's time.
      { intervalMs: 60_000, fastIntervalMs: 60_000, wakeOn: { side: side(), kind: 'pods' } },
    );
    const watch = await until('the wait to open its watch', () => watches[before]);
    state = 'terminating';
    watch.res.write(event('etcd-2'));
    await expect(done).resolves.toBe('terminating');
    expect(looks).toBe(2);
    await until('the watch closed', () => watch.closed || undefined);
  });
});
