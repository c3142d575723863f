import fs from 'node:fs';
import path from 'node:path';
import { run } from './processes.js';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  admin: ClientCert;
  controllerManager: ClientCert;
  nodeAgent: ClientCert;
}

async function issue(
  dir: string,
  name: string,
  subject: string,
  ca: { cert: string; key: string },
  extensions: string,
): Promise<ClientCert> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  await run('openssl', ['genrsa', '-out', key, '2048']);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  fs.writeFileSync(ext, extensions);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '30',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return { cert, key };
}

/**
 * A fresh CA per cluster, serving and client certificates, and service-account signing keys.
 * The API server's certificate is valid for 127.0.0.1 and `serverIps` (the cluster's gateway,
 * where its pods and worker reach it).
 */
export async function createClusterPki(
  dir: string,
  cluster: string,
  serverIps: string[] = [],
): Promise<ClusterPki> {
  fs.mkdirSync(dir, { recursive: true });
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  await run('openssl', ['genrsa', '-out', caKey, '2048']);
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-days',
    '30',
    '-sha256',
    '-subj',
    `/CN=etcd-stretch-sandbox-${cluster}-ca`,
    '-out',
    caCert,
  ]);
  const ca = { cert: caCert, key: caKey };
  const clientExt = 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
  const apiserver = await issue(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    ca,
    'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      `subjectAltName=${['127.0.0.1', ...serverIps].map((ip) => `IP:${ip}`).join(',')},` +
      'DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n',
  );
  const admin = await issue(dir, 'admin', '/O=system:masters/CN=sandbox-admin', ca, clientExt);
  const controllerManager = await issue(
    dir,
    'controller-manager',
    '/CN=system:kube-controller-manager',
    ca,
    clientExt,
  );
  const nodeAgent = await issue(dir, 'node-agent', '/O=system:masters/CN=sandbox-node-agent', ca, clientExt);
  const serviceAccountKey = path.join(dir, 'sa.key');
  const serviceAccountPub = path.join(dir, 'sa.pub');
  await run('openssl', ['genrsa', '-out', serviceAccountKey, '2048']);
  await run('openssl', ['rsa', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);
  return {
    dir,
    caCert,
    caKey,
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    serviceAccountKey,
    serviceAccountPub,
    admin,
    controllerManager,
    nodeAgent,
  };
}
