/**
 * Run inside a network namespace (`ip netns exec <ns> node --import tsx netns-reach.ts <checks>`):
 * tries each check of the JSON array in argv[2] and prints one JSON array of outcomes. Kubernetes
 * checks use the kubeconfig in KUBECONFIG, as a worker there would.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export type ReachCheck =
  | { kind: 'http'; url: string }
  /** TLS without verifying the certificate: whether anything answers at all. */
  | { kind: 'https-any'; url: string }
  | { kind: 'kube'; list: 'pods' | 'secrets'; namespace: string }
  /** An HTTP/2 server (Temporal's gRPC frontend): whether it sends its SETTINGS. */
  | { kind: 'h2'; address: string };

export type ReachOutcome = { status: number } | { answered: true } | { error: string };

// Generous: the machine may be busy. An unreachable address takes this long to fail.
const TIMEOUT_MS = 15_000;

function get(url: string): Promise<ReachOutcome> {
  const secure = url.startsWith('https:');
  return new Promise((resolve) => {
    const req = (secure ? https : http).get(
      url,
      { timeout: TIMEOUT_MS, ...(secure ? { rejectUnauthorized: false } : {}) },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

async function kube(list: 'pods' | 'secrets', namespace: string): Promise<ReachOutcome> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  try {
    if (list === 'pods') await core.listNamespacedPod({ namespace });
    else await core.listNamespacedSecret({ namespace });
    return { status: 200 };
  } catch (err) {
    const e = err as { code?: number; message?: string };
    return e.code ? { status: e.code } : { error: e.message ?? String(err) };
  }
}

function h2(address: string): Promise<ReachOutcome> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    const timer = setTimeout(
      () => session.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
      TIMEOUT_MS,
    );
    const done = (outcome: ReachOutcome) => {
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    session.once('remoteSettings', () => done({ answered: true }));
    session.once('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    session.once('close', () => done({ error: 'closed' }));
  });
}

async function check(c: ReachCheck): Promise<ReachOutcome> {
  switch (c.kind) {
    case 'http':
    case 'https-any':
      return get(c.url);
    case 'kube':
      return kube(c.list, c.namespace);
    case 'h2':
      return h2(c.address);
  }
}

const checks = JSON.parse(process.argv[2] ?? '[]') as ReachCheck[];
const outcomes = await Promise.all(checks.map(check));
process.stdout.write(JSON.stringify(outcomes) + '\n');
