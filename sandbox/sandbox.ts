import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  CLUSTERS,
  LAYOUTS,
  REPO_ROOT,
  clusterDir,
  kubeconfigPath,
  sandboxDir,
  toolPath,
  type ClusterName,
} from './config.js';
import { removeClientNetns } from './client-netns.js';
import { stopClusterWorkerProcess, stopClusterWorkers } from './cluster-worker.js';
import { apiserverUrl, startControlPlane } from './control-plane.js';
import { writeKubeconfig, type KubeconfigEntry } from './kubeconfig.js';
import {
  ensureHostNetwork,
  ensureLbLink,
  listSandboxLinks,
  listSandboxNetns,
  removeAllSandboxNetworking,
} from './network.js';
import { isAlive, startDaemon, stopDaemon, tailFile, waitFor } from './processes.js';

// In stop order: node agents first, they stop their pods gracefully.
const DAEMONS = ['node-agent', 'kube-controller-manager', 'kube-apiserver', 'control-plane-etcd'];
const REQUIRED_TOOLS = [
  'kube-apiserver',
  'kube-controller-manager',
  'etcd-3.4',
  'etcd-3.5',
  'etcd-3.6',
  'etcdctl-3.6',
];

// What a fresh cluster's CoreDNS would be configured with; the node agent reads its hosts block.
const DEFAULT_COREFILE = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

function log(msg: string): void {
  process.stderr.write(`sandbox: ${msg}\n`);
}

function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('the sandbox needs root (network namespaces, bind mounts)');
  const missing = REQUIRED_TOOLS.filter((t) => !fs.existsSync(toolPath(t)));
  if (missing.length)
    throw new Error(`missing tools in .tools/bin: ${missing.join(', ')}; run scripts/setup.sh first`);
}

function kubeClient(kubeconfig: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

async function startCluster(name: ClusterName): Promise<KubeconfigEntry> {
  const layout = LAYOUTS[name];
  await ensureHostNetwork(layout);
  const { pki, adminKubeconfig } = await startControlPlane(layout);
  const api = kubeClient(adminKubeconfig);
  await waitFor(
    `${name}: namespace kube-system`,
    () => api.readNamespace({ name: 'kube-system' }).then(() => true),
    {
      timeoutMs: 60_000,
    },
  );
  await api.createNamespacedConfigMap({
    namespace: 'kube-system',
    body: { metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: DEFAULT_COREFILE } },
  });
  const dir = clusterDir(name);
  const agent = startDaemon(
    'node-agent',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'sandbox', 'node-agent', 'main.ts'), name],
    dir,
    { ...process.env, NODE_NO_WARNINGS: '1' },
  );
  await waitFor(
    `${name}: ${layout.nodes.length} nodes registered and the default service account`,
    async () => {
      if (!isAlive(agent.pid)) throw new Error(`node agent exited:\n${tailFile(agent.logFile)}`);
      const nodes = await api.listNode();
      await api.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return nodes.items.length >= layout.nodes.length;
    },
    { timeoutMs: 60_000, onTimeout: () => tailFile(agent.logFile) },
  );
  return { context: name, server: apiserverUrl(layout), caCert: pki.caCert, user: pki.admin };
}

export interface UpResult {
  kubeconfig: string;
  durationMs: number;
}

export async function sandboxUp(): Promise<UpResult> {
  const started = Date.now();
  checkPrerequisites();
  await sandboxDown({ quiet: true });
  fs.mkdirSync(sandboxDir(), { recursive: true });
  try {
    await ensureLbLink();
    const entries = await Promise.all(CLUSTERS.map((c) => startCluster(c)));
    writeKubeconfig(kubeconfigPath(), entries, 'source');
  } catch (err) {
    log('up failed; cleaning up what was started');
    await sandboxDown({ quiet: true });
    throw err;
  }
  return { kubeconfig: kubeconfigPath(), durationMs: Date.now() - started };
}

/** Stops everything the sandbox started, also after a crash, and removes its files and network devices. */
export async function sandboxDown(opts: { quiet?: boolean } = {}): Promise<void> {
  const root = sandboxDir();
  await stopClusterWorkers();
  for (const c of CLUSTERS) {
    const dir = clusterDir(c);
    await stopClusterWorkerProcess(c);
    await removeClientNetns(c);
    for (const daemon of DAEMONS) await stopDaemon(dir, daemon, daemon === 'node-agent' ? 15_000 : 5000);
    killLeftoverContainers(dir);
  }
  await removeAllSandboxNetworking();
  const mountpoints = path.join(root, 'created-mountpoints');
  if (fs.existsSync(mountpoints)) {
    for (const p of new Set(fs.readFileSync(mountpoints, 'utf8').split('\n').filter(Boolean))) {
      try {
        fs.rmdirSync(p);
      } catch {
        /* not empty or already gone */
      }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  if (!opts.quiet) log('down: nothing left running');
}

function killLeftoverContainers(dir: string): void {
  const pods = path.join(dir, 'pods');
  if (!fs.existsSync(pods)) return;
  for (const pod of fs.readdirSync(pods)) {
    for (const f of fs.readdirSync(path.join(pods, pod)).filter((n) => n.endsWith('.pid'))) {
      const pid = Number(fs.readFileSync(path.join(pods, pod, f), 'utf8'));
      if (pid > 1 && isAlive(pid)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
}

export interface SandboxStatus {
  up: boolean;
  kubeconfig: string;
  clusters: {
    name: ClusterName;
    daemons: Record<string, boolean>;
    nodes: string[];
    pods: {
      namespace: string;
      name: string;
      phase: string;
      ready: boolean;
      ip?: string;
      node?: string;
      restarts: number;
    }[];
    loadBalancers: { namespace: string; name: string; ip?: string }[];
  }[];
  netns: string[];
  links: string[];
}

export async function sandboxStatus(): Promise<SandboxStatus> {
  const result: SandboxStatus = {
    up: false,
    kubeconfig: kubeconfigPath(),
    clusters: [],
    netns: [],
    links: [],
  };
  result.netns = await listSandboxNetns();
  result.links = await listSandboxLinks();
  if (!fs.existsSync(kubeconfigPath())) return result;
  result.up = true;
  for (const name of CLUSTERS) {
    const dir = clusterDir(name);
    const daemons: Record<string, boolean> = {};
    for (const d of DAEMONS) {
      const pidFile = path.join(dir, 'pids', `${d}.pid`);
      daemons[d] = fs.existsSync(pidFile) && isAlive(Number(fs.readFileSync(pidFile, 'utf8')));
    }
    result.up &&= Object.values(daemons).every(Boolean);
    const api = kubeClient(path.join(dir, 'admin.kubeconfig'));
    const [nodes, pods, services] = await Promise.all([
      api.listNode().catch(() => ({ items: [] })),
      api.listPodForAllNamespaces().catch(() => ({ items: [] })),
      api.listServiceForAllNamespaces().catch(() => ({ items: [] })),
    ]);
    result.clusters.push({
      name,
      daemons,
      nodes: nodes.items.map((n) => n.metadata?.name ?? ''),
      pods: pods.items.map((p) => ({
        namespace: p.metadata?.namespace ?? '',
        name: p.metadata?.name ?? '',
        phase: p.status?.phase ?? '',
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        ip: p.status?.podIP,
        node: p.spec?.nodeName,
        restarts: p.status?.containerStatuses?.reduce((n, c) => n + c.restartCount, 0) ?? 0,
      })),
      loadBalancers: services.items
        .filter((s) => s.spec?.type === 'LoadBalancer')
        .map((s) => ({
          namespace: s.metadata?.namespace ?? '',
          name: s.metadata?.name ?? '',
          ip: s.status?.loadBalancer?.ingress?.[0]?.ip,
        })),
    });
  }
  return result;
}
