/**
 * docker-compose.yml's topology without containers, on this host's loopback, from the same parts:
 *   postgresql          Debian's PostgreSQL (apt `postgresql`), a throwaway data dir, password auth
 *   temporal-schema     Temporal's own temporal-sql-tool running compose's script, word for word
 *   temporal            the Temporal server at compose's pin (setup part temporal_server), from the
 *                       config template the temporalio/server image renders, with compose's env
 *   temporal-namespace  compose's script with the pinned Temporal CLI
 *   worker              the image's contents: package.json, `npm ci --omit=dev` as the Dockerfile
 *                       runs it, dist/ from `npm run build`; `node dist/worker/main.js` with
 *                       compose's worker env (addresses moved to loopback ports)
 * What differs from compose: PostgreSQL is Debian's major version, not the image's; addresses
 * are 127.0.0.1 with free ports instead of service names; no UI and no codec server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT, toolPath } from './config.js';
import { waitFor } from './processes.js';

interface ComposeService {
  environment?: Record<string, string>;
  command?: string[];
}

export function composeServices(): Record<string, ComposeService> {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  return (YAML.parse(text, { merge: true }) as { services: Record<string, ComposeService> }).services;
}

/** A compose one-shot's shell script as sh gets it (compose turns `$$` into `$`). */
function composeScript(service: string): string {
  const command = composeServices()[service]?.command;
  if (!command?.length) throw new Error(`docker-compose.yml: no command for ${service}`);
  return command.join('\n').replaceAll('$$', '$');
}

export function temporalServerVersion(): string {
  const versions = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'versions.env'), 'utf8');
  const v = /^TEMPORAL_SERVER_VERSION=(\S+)$/m.exec(versions)?.[1];
  if (!v) throw new Error('TEMPORAL_SERVER_VERSION missing in scripts/versions.env');
  return v;
}

export function temporalServerDir(): string {
  const cache = process.env.ETCD_STRETCH_CACHE ?? path.join(os.homedir(), '.cache', 'etcd-stretch');
  return path.join(cache, 'temporal-server', temporalServerVersion());
}

/** Debian's PostgreSQL binaries (the newest major installed). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => /^\d+$/.test(d)) : [];
  const major = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error('no PostgreSQL in /usr/lib/postgresql: apt-get install postgresql');
  return path.join(root, major, 'bin');
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port below 32768: Temporal stores membership ports in a smallint column, so the
 * kernel's ephemeral ports (port 0) do not fit.
 */
async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port in 20000-31999');
}

function userIds(name: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Runs a command to its end without blocking the event loop (a test runner's worker must keep
 * answering while npm ci runs); rejects with the end of its stderr when it fails.
 */
function runChecked(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeout?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.slice(-2000)}`)),
    );
  });
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

export interface ComposeTopologyOptions {
  /** The worker image's contents (package.json, node_modules, dist/): see imageContents(). */
  appDir: string;
  say?: (line: string) => void;
}

export class ComposeTopology {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-compose-'));
  readonly password = `pw-${Math.random().toString(36).slice(2)}`;
  private postgres?: ChildProcess;
  private server?: ChildProcess;
  private serverEnv: Record<string, string> = {};
  pgPort = 0;
  frontendPort = 0;
  readonly timings: Record<string, number> = {};
  readonly serverRestarts: { killedAt: string; upAt: string }[] = [];

  private constructor(private readonly opts: ComposeTopologyOptions) {}

  get address(): string {
    return `127.0.0.1:${this.frontendPort}`;
  }

  static async start(opts: ComposeTopologyOptions): Promise<ComposeTopology> {
    const t = new ComposeTopology(opts);
    try {
      await t.step('postgresql', () => t.startPostgres());
      await t.step('temporal-schema', () => t.createSchema());
      await t.step('temporal', () => t.startServer());
      await t.step('temporal-namespace', () => t.createNamespace());
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private async step(name: string, fn: () => Promise<void> | void): Promise<void> {
    const started = Date.now();
    await fn();
    this.timings[name] = Date.now() - started;
    this.opts.say?.(`${name}: up in ${this.timings[name]} ms`);
  }

  private async startPostgres(): Promise<void> {
    const bin = postgresBin();
    const data = path.join(this.dir, 'pg');
    fs.mkdirSync(data, { mode: 0o700 });
    const pwfile = path.join(this.dir, 'pgpass');
    fs.writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    // PostgreSQL refuses to run as root: the package's postgres user owns the throwaway files.
    const ids = userIds('postgres');
    fs.chownSync(this.dir, ids.uid, ids.gid);
    fs.chownSync(data, ids.uid, ids.gid);
    fs.chownSync(pwfile, ids.uid, ids.gid);
    // As the postgres image: POSTGRES_USER is the superuser, passwords over TCP.
    await runChecked(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'temporal', `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer'],
      { ...ids, cwd: this.dir },
    );
    this.pgPort = await freePort();
    this.postgres = spawn(
      path.join(bin, 'postgres'),
      ['-D', data, '-p', String(this.pgPort), '-c', 'listen_addresses=127.0.0.1', '-k', this.dir],
      {
        ...ids,
        cwd: this.dir,
        stdio: ['ignore', 'ignore', fs.openSync(path.join(this.dir, 'postgres.log'), 'a')],
      },
    );
    // compose's healthcheck: pg_isready -U temporal -d postgres.
    await waitFor(
      'PostgreSQL to accept connections',
      () => {
        if (this.postgres?.exitCode !== null) throw new Error(`postgres exited ${this.postgres?.exitCode}`);
        const args = ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', 'temporal', '-d', 'postgres'];
        return Promise.resolve(spawnSync(path.join(bin, 'pg_isready'), args).status === 0);
      },
      { timeoutMs: 60_000, intervalMs: 250, onTimeout: () => this.logTail('postgres.log') },
    );
  }

  /** compose's temporal-schema script with the built temporal-sql-tool and the module's schema. */
  private async createSchema(): Promise<void> {
    const server = temporalServerDir();
    const script = composeScript('temporal-schema')
      .replace('--ep postgresql', '--ep 127.0.0.1')
      .replace('-p 5432', `-p ${this.pgPort}`)
      .replaceAll('/etc/temporal/schema', path.join(server, 'schema'));
    const out = await runChecked('sh', ['-c', script], {
      env: {
        ...process.env,
        PATH: `${path.join(server, 'bin')}:${process.env.PATH}`,
        SQL_PASSWORD: this.password,
      },
      cwd: this.dir,
    });
    fs.writeFileSync(path.join(this.dir, 'temporal-schema.log'), out);
  }

  /** The temporalio/server image's config template, rendered from compose's environment. */
  private async startServer(): Promise<void> {
    const compose = composeServices().temporal?.environment ?? {};
    const ports: Record<string, number> = {};
    for (const key of [
      'FRONTEND_GRPC_PORT',
      'FRONTEND_HTTP_PORT',
      'FRONTEND_MEMBERSHIP_PORT',
      'HISTORY_GRPC_PORT',
      'HISTORY_MEMBERSHIP_PORT',
      'MATCHING_GRPC_PORT',
      'MATCHING_MEMBERSHIP_PORT',
      'WORKER_GRPC_PORT',
      'WORKER_MEMBERSHIP_PORT',
    ])
      ports[key] = await freePort();
    this.frontendPort = ports.FRONTEND_GRPC_PORT!;
    this.serverEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...compose,
      POSTGRES_SEEDS: '127.0.0.1',
      DB_PORT: String(this.pgPort),
      // The template takes the visibility store's port from POSTGRES_PORT (compose: both 5432).
      POSTGRES_PORT: String(this.pgPort),
      POSTGRES_PWD: this.password,
      BIND_ON_IP: '127.0.0.1',
      DYNAMIC_CONFIG_FILE_PATH: path.join(
        REPO_ROOT,
        'deploy',
        'compose',
        'dynamicconfig',
        path.basename(compose.DYNAMIC_CONFIG_FILE_PATH ?? 'etcd-stretch.yaml'),
      ),
      LOG_LEVEL: 'warn',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    await this.launchServer();
  }

  private async launchServer(): Promise<void> {
    const dir = temporalServerDir();
    this.server = spawn(
      path.join(dir, 'bin', 'temporal-server'),
      ['--config-file', path.join(dir, 'config', 'docker.yaml'), '--allow-no-auth', 'start'],
      {
        env: this.serverEnv,
        cwd: this.dir,
        stdio: [
          'ignore',
          fs.openSync(path.join(this.dir, 'temporal.log'), 'a'),
          fs.openSync(path.join(this.dir, 'temporal.log'), 'a'),
        ],
      },
    );
    const { Connection } = await import('@temporalio/client');
    await waitFor(
      `the Temporal server on ${this.address}`,
      async () => {
        if (this.server?.exitCode !== null)
          throw new Error(`temporal-server exited ${this.server?.exitCode}`);
        const c = await Connection.connect({ address: this.address, connectTimeout: 1000 });
        try {
          await c.workflowService.getSystemInfo({});
          return true;
        } finally {
          await c.close();
        }
      },
      { timeoutMs: 120_000, intervalMs: 500, onTimeout: () => this.logTail('temporal.log') },
    );
  }

  /** compose's temporal-namespace script, with the pinned Temporal CLI. */
  private async createNamespace(): Promise<void> {
    const out = await runChecked('sh', ['-c', composeScript('temporal-namespace')], {
      env: {
        ...process.env,
        PATH: `${path.dirname(toolPath('temporal'))}:${process.env.PATH}`,
        TEMPORAL_ADDRESS: this.address,
      },
      cwd: this.dir,
      timeout: 120_000,
    });
    fs.writeFileSync(path.join(this.dir, 'temporal-namespace.log'), out);
  }

  /** SIGKILL the Temporal server (PostgreSQL stays), then start it again on the same ports. */
  async restartServer(downForMs = 0): Promise<void> {
    const killedAt = new Date().toISOString();
    await stopChild(this.server, 'SIGKILL');
    if (downForMs) await new Promise((r) => setTimeout(r, downForMs));
    await this.launchServer();
    this.serverRestarts.push({ killedAt, upAt: new Date().toISOString() });
  }

  /** The worker as compose runs it: `node dist/worker/main.js` from the image's contents. */
  workerCommand(overrides: Record<string, string>): {
    cwd: string;
    argv: string[];
    env: Record<string, string>;
  } {
    const compose = composeServices().worker?.environment ?? {};
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'production',
      ...compose,
      TEMPORAL_ADDRESS: this.address,
      ETCD_STRETCH_WORKFLOW_BUNDLE: path.join(this.opts.appDir, 'dist', 'workflow-bundle.js'),
      // compose interpolates ${ETCD_STRETCH_PAYLOAD_KEY_FILE:+...} to '' without a key.
      ETCD_STRETCH_PAYLOAD_KEY_FILE: '',
      ...overrides,
    };
    return { cwd: this.opts.appDir, argv: ['dist/worker/main.js'], env };
  }

  logTail(file: string, lines = 30): string {
    const p = path.join(this.dir, file);
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }

  async stop(): Promise<void> {
    await stopChild(this.server, 'SIGTERM');
    await stopChild(this.postgres, 'SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The runtime stage of the Dockerfile, outside Docker: package.json, the dependencies stage's
 * `npm ci --omit=dev` (same command), and dist/ from `npm run build` in the repository.
 */
export async function imageContents(appDir: string, dependenciesCommand: string): Promise<void> {
  fs.mkdirSync(appDir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json'])
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(appDir, f));
  // Without the image's `npm cache clean --force`: on a host that would empty the user's cache.
  const install = dependenciesCommand.replace(/ && npm cache clean --force$/, '');
  await runChecked('sh', ['-c', install], { cwd: appDir, env: process.env, timeout: 600_000 });
  fs.rmSync(path.join(appDir, 'package-lock.json'));
  await runChecked('npm', ['run', 'build'], { cwd: REPO_ROOT, env: process.env, timeout: 600_000 });
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(appDir, 'dist'), { recursive: true });
}
