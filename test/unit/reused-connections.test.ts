/**
 * Kubernetes API calls keep their connection (reused-connections.ts): a local HTTPS server with
 * client-certificate auth counts the TLS connections a KubeConfig opens.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reuseConnections } from '../../activities/kubernetes/reused-connections.js';
import { TestPki, type KeyPair } from '../helpers/test-pki.js';

const pki = new TestPki();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-reuse-'));
let ca: KeyPair;
let server: https.Server;
let url: string;
/** Client certificate CN of each TLS connection the server accepted, in order. */
const connections: string[] = [];
const closed: string[] = [];

beforeAll(async () => {
  ca = await pki.ca('api-ca');
  const serving = await pki.issue(ca, 'apiserver', ['127.0.0.1']);
  server = https.createServer(
    {
      cert: serving.certPem,
      key: serving.keyPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] }));
    },
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    const cn = String(socket.getPeerCertificate().subject?.CN ?? '?');
    connections.push(cn);
    socket.on('close', () => closed.push(cn));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  pki.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A KubeConfig for the local server, authenticating with the certificate in `certFile`. */
function kubeConfig(certFile: string, keyFile: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: url, caData: Buffer.from(ca.certPem).toString('base64') }],
    users: [{ name: 'me', certFile, keyFile }],
    contexts: [{ name: 'local', cluster: 'local', user: 'me' }],
    currentContext: 'local',
  });
  return kc;
}

async function writeClientCert(name: string): Promise<{ certFile: string; keyFile: string }> {
  const pair = await pki.issue(ca, name);
  const certFile = path.join(dir, 'client.crt');
  const keyFile = path.join(dir, 'client.key');
  fs.writeFileSync(certFile, pair.certPem);
  fs.writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

async function listPods(kc: KubeConfig, times: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < times; i++) await core.listNamespacedPod({ namespace: 'default' });
}

describe('Kubernetes API connections', () => {
  it('client-node alone opens a connection per request (why reuseConnections exists)', async () => {
    const files = await writeClientCert('plain');
    await listPods(kubeConfig(files.certFile, files.keyFile), 5);
    expect(connections.filter((cn) => cn === 'plain')).toHaveLength(5);
  });

  it('keeps one connection while the client certificate is the same, a new one after it changes', async () => {
    const files = await writeClientCert('first');
    const kc = reuseConnections(kubeConfig(files.certFile, files.keyFile));
    expect(reuseConnections(kc)).toBe(kc);

    // undici may open a second connection while it finishes reading the last response.
    await listPods(kc, 10);
    const first = connections.filter((cn) => cn === 'first').length;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(2);

    await writeClientCert('rotated'); // the same files, a new certificate: read at each request
    await listPods(kc, 10);
    const rotated = connections.filter((cn) => cn === 'rotated').length;
    expect(rotated).toBeGreaterThanOrEqual(1);
    expect(rotated).toBeLessThanOrEqual(2);
    // The connections of the old certificate are closed, not left idle.
    await expect.poll(() => closed.filter((cn) => cn === 'first').length).toBe(first);
  });
});
