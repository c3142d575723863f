/**
 * A Temporal dev server (the pinned CLI) that keeps its state in a SQLite file, so it can be
 * killed and started again on the same port with the same workflows: a server restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { toolPath } from '../../sandbox/config.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes.js';
import { freePort } from './etcd-cluster.js';
import { waitFor } from './kube.js';

export class PersistentDevServer {
  private child?: ChildProcess;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-temporal-'));
  readonly restarts: { killedAt: string; upAt: string }[] = [];

  private constructor(readonly port: number) {}

  static async start(): Promise<PersistentDevServer> {
    const s = new PersistentDevServer(await freePort());
    await s.launch();
    return s;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--headless',
      '--db-filename',
      path.join(this.dir, 'temporal.db'),
      '--log-level',
      'error',
      ...SEARCH_ATTRIBUTE_KEYS.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
    ];
    const child = spawn(toolPath('temporal'), args, { stdio: ['ignore', 'ignore', 'inherit'] });
    this.child = child;
    await waitFor(
      `the Temporal dev server on ${this.address}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`temporal exited with ${child.exitCode}`);
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
  }

  /** SIGKILL (a crash, not a clean shutdown), then the same server on the same file and port. */
  async restart(downForMs = 0): Promise<void> {
    const killedAt = new Date().toISOString();
    await this.crash();
    if (downForMs) await new Promise((r) => setTimeout(r, downForMs));
    await this.startAgain();
    this.restarts.push({ killedAt, upAt: new Date().toISOString() });
  }

  /** SIGKILL: the server is gone until startAgain(). */
  async crash(): Promise<void> {
    await this.kill();
  }

  /** The same server on the same file and port, once the port is free again. */
  async startAgain(): Promise<void> {
    await waitFor(
      `port ${this.port} to be free`,
      () =>
        new Promise<boolean>((resolve) => {
          const srv = net.createServer();
          srv.once('error', () => resolve(false));
          srv.listen(this.port, '127.0.0.1', () => srv.close(() => resolve(true)));
        }),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await this.launch();
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
