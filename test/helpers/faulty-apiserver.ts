/**
 * A fault-injecting proxy in front of one sandbox API server, for fault run 7: requests on a
 * namespace get deterministic 409 Conflict and 5xx answers, some before the request reaches the
 * API server, some after it was applied (the answer is lost: the caller cannot know). A
 * kubeconfig copy points that cluster's context at the proxy (plain HTTP on loopback; the proxy
 * talks TLS with the cluster's admin credentials upstream).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { kubeconfigPath, type ClusterName } from '../../sandbox/config.js';

export interface InjectedFault {
  at: string;
  method: string;
  path: string;
  answer: number;
  applied: boolean;
}

interface KubeconfigFile {
  clusters: { name: string; cluster: { server: string; 'certificate-authority': string } }[];
  users: { name: string; user: { 'client-certificate': string; 'client-key': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
}

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });

export class FaultyApiServer {
  readonly injected: InjectedFault[] = [];
  readonly kubeconfig: string;
  private counters = new Map<string, number>();
  private readonly seen = new Set<string>();
  private enabled = true;

  private constructor(
    private readonly server: http.Server,
    kubeconfig: string,
  ) {
    this.kubeconfig = kubeconfig;
  }

  /** Faults for requests whose path contains `/namespaces/<namespace>/` on `cluster`. */
  static async start(cluster: ClusterName, namespace: string): Promise<FaultyApiServer> {
    const config = YAML.parse(fs.readFileSync(kubeconfigPath(), 'utf8')) as KubeconfigFile;
    const ctx = config.contexts.find((c) => c.name === cluster)!.context;
    const upstreamCluster = config.clusters.find((c) => c.name === ctx.cluster)!.cluster;
    const user = config.users.find((u) => u.name === ctx.user)!.user;
    const upstream = new URL(upstreamCluster.server);
    const agent = new https.Agent({
      ca: fs.readFileSync(upstreamCluster['certificate-authority']),
      cert: fs.readFileSync(user['client-certificate']),
      key: fs.readFileSync(user['client-key']),
      keepAlive: true,
    });
    const holder: { self?: FaultyApiServer } = {};
    const server = http.createServer((req, res) => holder.self!.handle(req, res, upstream, agent, namespace));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-faulty-api-'));
    const file = path.join(dir, 'kubeconfig');
    const patched = structuredClone(config);
    const c = patched.clusters.find((x) => x.name === ctx.cluster)!;
    // Plain HTTP on loopback: the client library wants the TLS check waived explicitly for it.
    c.cluster = { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } as never;
    fs.writeFileSync(file, YAML.stringify(patched), { mode: 0o600 });
    holder.self = new FaultyApiServer(server, file);
    return holder.self;
  }

  /** From now on every request goes through untouched. */
  heal(): void {
    this.enabled = false;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    fs.rmSync(path.dirname(this.kubeconfig), { recursive: true, force: true });
  }

  /**
   * Which fault, if any, a request gets: the first time each request (method and path) is seen
   * it fails, the kinds taking turns: mutations 409 (update conflict, for PUT/PATCH) or 503
   * before applying, or 504 after applying (the answer is lost); reads 503. Asked again, it
   * goes through: a fault rate no real API server comes near, yet every call retried gets done.
   */
  private faultFor(method: string, key: string): { answer: number; afterApply: boolean } | undefined {
    if (this.seen.has(key)) return undefined;
    this.seen.add(key);
    const n = (this.counters.get(method) ?? 0) + 1;
    this.counters.set(method, n);
    if (method === 'GET') return { answer: 503, afterApply: false };
    switch (n % 3) {
      case 1:
        return method === 'PUT' || method === 'PATCH'
          ? { answer: 409, afterApply: false }
          : { answer: 503, afterApply: false };
      case 2:
        return { answer: 503, afterApply: false };
      default:
        return { answer: 504, afterApply: true };
    }
  }

  private handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    upstream: URL,
    agent: https.Agent,
    namespace: string,
  ): void {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const watch = /[?&]watch=(1|true)/.test(url);
    let fault: ReturnType<FaultyApiServer['faultFor']>;
    if (this.enabled && !watch && url.includes(`/namespaces/${namespace}/`))
      fault = this.faultFor(method, `${method} ${url.split('?')[0]}`);
    const record = (answer: number, applied: boolean) =>
      this.injected.push({ at: new Date().toISOString(), method, path: url, answer, applied });
    if (fault && !fault.afterApply) {
      record(fault.answer, false);
      const reason = fault.answer === 409 ? 'Conflict' : 'ServiceUnavailable';
      res.writeHead(fault.answer, { 'Content-Type': 'application/json' });
      res.end(status(fault.answer, reason, `injected fault: ${reason} (${method} ${url})`));
      req.resume();
      return;
    }
    const out = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (up) => {
        if (fault?.afterApply) {
          up.resume();
          record(fault.answer, true);
          res.writeHead(fault.answer, { 'Content-Type': 'application/json' });
          res.end(status(fault.answer, 'Timeout', `injected fault: the answer was lost (${method} ${url})`));
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(status(502, 'BadGateway', `proxy: ${err.message}`));
    });
    req.pipe(out);
  }
}
