/**
 * worker/health-server.ts: the probe endpoints answer from the probes they are given (liveness
 * from nothing but the process), a readiness that hangs or throws answers 503, and
 * ETCD_STRETCH_HEALTH_ADDRESS is parsed like the metrics address.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHealthServer,
  DEFAULT_HEALTH_ADDRESS,
  healthAddress,
  listen,
  type Verdict,
  type WorkerProbes,
} from '../../worker/health-server.js';

let server: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(
  probes: WorkerProbes,
  readyTimeoutMs?: number,
): Promise<(path: string) => Promise<{ status: number; body: unknown }>> {
  server = createHealthServer(probes, { readyTimeoutMs });
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 });
  return async (path) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const text = await res.text();
    return {
      status: res.status,
      body: res.headers.get('content-type') === 'application/json' ? JSON.parse(text) : text,
    };
  };
}

describe('the health server', () => {
  it('answers liveness without asking the probes; startup and readiness from them', async () => {
    let started: Verdict = { ok: false, detail: 'starting' };
    let ready: () => Promise<Verdict> = () => Promise.reject(new Error('Temporal unreachable'));
    let asked = 0;
    const get = await serve({
      started: () => (asked++, started),
      ready: () => (asked++, ready()),
    });
    expect(await get('/livez')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(asked).toBe(0);
    expect(await get('/startupz')).toEqual({ status: 503, body: { status: 'failing', detail: 'starting' } });
    expect(await get('/readyz')).toEqual({
      status: 503,
      body: { status: 'failing', detail: 'Temporal unreachable' },
    });
    started = { ok: true, detail: '1 worker(s) running' };
    ready = () => Promise.resolve({ ok: true, detail: 'polls q (workflow)' });
    expect(await get('/startupz')).toEqual({
      status: 200,
      body: { status: 'ok', detail: '1 worker(s) running' },
    });
    expect(await get('/readyz')).toEqual({
      status: 200,
      body: { status: 'ok', detail: 'polls q (workflow)' },
    });
    expect((await get('/metrics')).status).toBe(404);
  });

  it('keeps answering liveness while a readiness check hangs', async () => {
    const get = await serve(
      {
        started: () => ({ ok: true, detail: '' }),
        ready: () => new Promise<Verdict>(() => undefined),
      },
      300,
    );
    const pending = get('/readyz');
    expect((await get('/livez')).status).toBe(200);
    expect(await pending).toEqual({
      status: 503,
      body: { status: 'failing', detail: 'no answer within 300 ms' },
    });
  });
});

describe('ETCD_STRETCH_HEALTH_ADDRESS', () => {
  it('defaults to loopback, takes host:port or off, refuses anything else', () => {
    expect(DEFAULT_HEALTH_ADDRESS).toBe('127.0.0.1:9465');
    expect(healthAddress({})).toEqual({ host: '127.0.0.1', port: 9465 });
    expect(healthAddress({ ETCD_STRETCH_HEALTH_ADDRESS: '0.0.0.0:9465' })).toEqual({
      host: '0.0.0.0',
      port: 9465,
    });
    expect(healthAddress({ ETCD_STRETCH_HEALTH_ADDRESS: '[::]:80' })).toEqual({ host: '::', port: 80 });
    expect(healthAddress({ ETCD_STRETCH_HEALTH_ADDRESS: 'off' })).toBeUndefined();
    expect(() => healthAddress({ ETCD_STRETCH_HEALTH_ADDRESS: '9465' })).toThrow('expected host:port');
    expect(() => healthAddress({ ETCD_STRETCH_HEALTH_ADDRESS: 'h:70000' })).toThrow('expected host:port');
  });
});
