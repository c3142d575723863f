import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { ClusterLayout, ClusterName } from './config.js';
import { CONTROL_PLANE_ETCD, LAYOUTS, clusterDir, toolPath } from './config.js';
import { gatewayOf } from './network.js';
import { createClusterPki, type ClusterPki } from './pki.js';
import { startDaemon, stopDaemon, tailFile, waitFor } from './processes.js';
import { writeKubeconfig } from './kubeconfig.js';

// Only what the sandbox needs: the StatefulSet controller creates Pods and PVCs
// and decides which Pod goes on scale-down; the binder pairs PVCs with the PVs
// the node agent provisions; the garbage collector removes owned objects.
const CONTROLLERS = [
  'statefulset-controller',
  'garbage-collector-controller',
  'persistentvolume-binder-controller',
  'persistentvolumeclaim-protection-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'namespace-controller',
  'endpointslice-controller',
  'pod-garbage-collector-controller',
];

export function apiserverUrl(layout: ClusterLayout): string {
  return `https://127.0.0.1:${layout.apiserverPort}`;
}

/** The API server as the cluster's pods and worker see it: the node agent's forwarder on the gateway. */
export function apiserverGatewayUrl(layout: ClusterLayout): string {
  return `https://${gatewayOf(layout)}:${layout.apiserverPort}`;
}

function readyz(layout: ClusterLayout, pki: Pick<ClusterPki, 'caCert' | 'admin'>): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      `${apiserverUrl(layout)}/readyz`,
      {
        ca: fs.readFileSync(pki.caCert),
        cert: fs.readFileSync(pki.admin.cert),
        key: fs.readFileSync(pki.admin.key),
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/** Starts the backing etcd, kube-apiserver and kube-controller-manager of one cluster. */
export async function startControlPlane(
  layout: ClusterLayout,
): Promise<{ pki: ClusterPki; adminKubeconfig: string }> {
  const dir = clusterDir(layout.name);
  fs.mkdirSync(dir, { recursive: true });
  const pki = await createClusterPki(path.join(dir, 'pki'), layout.name, [gatewayOf(layout)]);

  const etcd = startDaemon(
    'control-plane-etcd',
    toolPath(CONTROL_PLANE_ETCD),
    [
      `--name=${layout.name}-control-plane`,
      `--data-dir=${path.join(dir, 'control-plane-etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${layout.etcdClientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${layout.etcdClientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${layout.etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${layout.etcdPeerPort}`,
      `--initial-cluster=${layout.name}-control-plane=http://127.0.0.1:${layout.etcdPeerPort}`,
      '--quota-backend-bytes=2147483648',
      '--log-level=warn',
    ],
    dir,
  );

  const apiserver = startDaemon(
    'kube-apiserver',
    toolPath('kube-apiserver'),
    [
      `--etcd-servers=http://127.0.0.1:${layout.etcdClientPort}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${layout.apiserverPort}`,
      '--endpoint-reconciler-type=none',
      `--service-cluster-ip-range=${layout.serviceSubnet}`,
      `--client-ca-file=${pki.caCert}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--service-account-issuer=https://${layout.name}.sandbox.etcd-stretch.invalid`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ],
    dir,
  );

  await waitFor(`${layout.name} kube-apiserver /readyz`, async () => readyz(layout, pki), {
    timeoutMs: 120_000,
    intervalMs: 500,
    onTimeout: () =>
      `\n--- ${apiserver.logFile}\n${tailFile(apiserver.logFile)}\n--- ${etcd.logFile}\n${tailFile(etcd.logFile)}`,
  });

  const cmKubeconfig = path.join(dir, 'controller-manager.kubeconfig');
  writeKubeconfig(cmKubeconfig, [
    { context: layout.name, server: apiserverUrl(layout), caCert: pki.caCert, user: pki.controllerManager },
  ]);
  const adminKubeconfig = path.join(dir, 'admin.kubeconfig');
  writeKubeconfig(adminKubeconfig, [
    { context: layout.name, server: apiserverUrl(layout), caCert: pki.caCert, user: pki.admin },
  ]);
  writeKubeconfig(path.join(dir, 'node-agent.kubeconfig'), [
    { context: layout.name, server: apiserverUrl(layout), caCert: pki.caCert, user: pki.nodeAgent },
  ]);
  startDaemon(
    'kube-controller-manager',
    toolPath('kube-controller-manager'),
    [
      `--kubeconfig=${cmKubeconfig}`,
      `--controllers=${CONTROLLERS.join(',')}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-name=${layout.name}`,
      '--use-service-account-credentials=true',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--v=1',
    ],
    dir,
  );
  return { pki, adminKubeconfig };
}

const APISERVER_ARGV = 'kube-apiserver.argv.json';

/**
 * Fault runs: the cluster's API server goes away (its process stops, its port closes); the
 * cluster's pods, load balancers and node agent keep running as they are. `restartApiserver`
 * brings it back.
 */
export async function stopApiserver(cluster: ClusterName): Promise<void> {
  const dir = clusterDir(cluster);
  const pid = Number(fs.readFileSync(path.join(dir, 'pids', 'kube-apiserver.pid'), 'utf8'));
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  fs.writeFileSync(path.join(dir, APISERVER_ARGV), JSON.stringify(argv));
  await stopDaemon(dir, 'kube-apiserver', 5000);
}

/** Starts the API server that `stopApiserver` stopped, with the same command line; waits until it is ready. */
export async function restartApiserver(cluster: ClusterName): Promise<void> {
  const dir = clusterDir(cluster);
  const [cmd, ...args] = JSON.parse(fs.readFileSync(path.join(dir, APISERVER_ARGV), 'utf8')) as string[];
  const apiserver = startDaemon('kube-apiserver', cmd!, args, dir);
  const pki = path.join(dir, 'pki');
  await waitFor(
    `${cluster} kube-apiserver /readyz`,
    async () =>
      readyz(LAYOUTS[cluster], {
        caCert: path.join(pki, 'ca.crt'),
        admin: { cert: path.join(pki, 'admin.crt'), key: path.join(pki, 'admin.key') },
      }),
    { timeoutMs: 120_000, intervalMs: 500, onTimeout: () => `\n${tailFile(apiserver.logFile)}` },
  );
}
