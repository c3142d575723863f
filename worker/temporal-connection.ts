/**
 * How the worker and the CLI reach Temporal: the local dev server by default; a self-hosted
 * cluster or Temporal Cloud by address, namespace and TLS (or API key), all from the environment.
 */
import fs from 'node:fs';

export interface TemporalSettings {
  address: string;
  namespace: string;
  tls?:
    | { serverName?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } }
    | true;
  apiKey?: string;
  taskQueue: string;
}

function file(name: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new Error(`${name}=${path}: ${(err as Error).message}`);
  }
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const cert = file('TEMPORAL_TLS_CERT', env.TEMPORAL_TLS_CERT);
  const key = file('TEMPORAL_TLS_KEY', env.TEMPORAL_TLS_KEY);
  if (!!cert !== !!key)
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither');
  const ca = file('TEMPORAL_TLS_CA', env.TEMPORAL_TLS_CA);
  const wantsTls = env.TEMPORAL_TLS === 'true' || !!cert || !!ca || !!env.TEMPORAL_API_KEY;
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.ETCD_STRETCH_TASK_QUEUE ?? 'etcd-stretch',
    apiKey: env.TEMPORAL_API_KEY,
    tls: wantsTls
      ? cert || ca || env.TEMPORAL_TLS_SERVER_NAME
        ? {
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
            serverRootCACertificate: ca,
            clientCertPair: cert && key ? { crt: cert, key } : undefined,
          }
        : true
      : undefined,
  };
}
