/**
 * The worker's probes over HTTP (ETCD_STRETCH_HEALTH_ADDRESS, default 127.0.0.1:9465, `off`
 * disables), for the kubelet and the image's HEALTHCHECK:
 *   /livez     200 whenever this process answers: its event loop runs. Asks nobody else, so a
 *              Temporal outage does not get every worker restarted.
 *   /startupz  200 once the workers are created (connected, workflow bundle loaded) and running.
 *   /readyz    200 while every worker runs and Temporal lists a recent poller of this process on
 *              each of its task queues (asks the Temporal frontend).
 * Each answers a JSON body `{ status, detail }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEFAULT_HEALTH_ADDRESS = '127.0.0.1:9465';
export const HEALTH_PATHS = { liveness: '/livez', startup: '/startupz', readiness: '/readyz' } as const;

export interface Verdict {
  ok: boolean;
  detail: string;
}

export interface WorkerProbes {
  /** Startup: the workers exist and run. */
  started(): Verdict;
  /** Readiness: connected and polling; may ask Temporal. */
  ready(): Promise<Verdict>;
}

export function healthAddress(
  env: NodeJS.ProcessEnv = process.env,
): { host: string; port: number } | undefined {
  const value = env.ETCD_STRETCH_HEALTH_ADDRESS ?? DEFAULT_HEALTH_ADDRESS;
  if (value === '' || value === 'off') return undefined;
  const m = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`ETCD_STRETCH_HEALTH_ADDRESS=${value}: expected host:port (e.g. 0.0.0.0:9465) or "off"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** A readiness check that takes longer answers 503: the kubelet's own timeout would say less. */
export const READY_TIMEOUT_MS = 8_000;

async function readiness(probes: WorkerProbes, timeoutMs: number): Promise<Verdict> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([
      probes.ready().catch((err: unknown) => ({ ok: false, detail: (err as Error).message })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createHealthServer(
  probes: WorkerProbes,
  { startedAt = Date.now(), readyTimeoutMs = READY_TIMEOUT_MS } = {},
): http.Server {
  return http.createServer((req, res) => {
    const answer = (v: Verdict) => {
      res.writeHead(v.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: v.ok ? 'ok' : 'failing', detail: v.detail }) + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://health');
    switch (url.pathname) {
      case HEALTH_PATHS.liveness:
        answer({
          ok: true,
          detail: `pid ${process.pid} up ${Math.round((Date.now() - startedAt) / 1000)} s`,
        });
        return;
      case HEALTH_PATHS.startup:
        answer(probes.started());
        return;
      case HEALTH_PATHS.readiness:
        void readiness(probes, readyTimeoutMs).then(answer);
        return;
      default:
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`${Object.values(HEALTH_PATHS).join(' ')}\n`);
    }
  });
}

/** Listens on `address`; resolves with the bound address (port 0 picks a free one). */
export async function listen(
  server: http.Server,
  address: { host: string; port: number },
): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
