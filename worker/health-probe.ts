/**
 * The image's HEALTHCHECK (and any exec probe): asks this container's worker for one of its
 * probes (worker/health-server.ts) at ETCD_STRETCH_HEALTH_ADDRESS.
 *   node dist/worker/health-probe.js [livez|startupz|readyz]     default livez; exit 0 ok, 1 not
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HEALTH_PATHS, healthAddress } from './health-server.js';

export async function probe(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ok: boolean; body: string }> {
  const known = Object.values(HEALTH_PATHS).map((p) => p.slice(1));
  if (!known.includes(name)) throw new Error(`unknown probe ${name} (known: ${known.join(', ')})`);
  const address = healthAddress(env);
  if (!address) throw new Error('ETCD_STRETCH_HEALTH_ADDRESS is off: no probes to ask');
  // A wildcard bind is reached on loopback.
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/${name}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { ok: res.status === 200, body: (await res.text()).trim() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  probe(process.argv[2] ?? 'livez').then(
    ({ ok, body }) => {
      (ok ? process.stdout : process.stderr).write(`${body}\n`);
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
