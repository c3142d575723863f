/**
 * Real etcd clusters on loopback for tests and benchmarks.
 *
 * Each member is a real etcd process of the requested version (binaries from
 * .tools/bin: etcd-3.4 from Debian, etcd-3.5/3.6 built by scripts/setup.sh),
 * with its own temp data dir and free ports, and fast raft timings. A missing
 * binary throws (tests fail, they do not skip). `teardown()` kills every
 * process and removes every directory; an exit hook does the same if the test
 * process dies first.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  rmSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Etcd3, type IOptions } from 'etcd3';
import type { EtcdAccess } from '../../activities/etcd/types.js';

const execFileAsync = promisify(execFile);

export const ETCD_VERSIONS = ['3.4', '3.5', '3.6'] as const;
export type EtcdVersion = (typeof ETCD_VERSIONS)[number];

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TOOLS_BIN = join(REPO_ROOT, '.tools', 'bin');

/** Path of an etcd tool of a version; throws a clear error when it has not been installed. */
export function etcdBinary(version: EtcdVersion, tool: 'etcd' | 'etcdctl' | 'etcdutl' = 'etcd'): string {
  const p = join(TOOLS_BIN, `${tool}-${version}`);
  if (!existsSync(p)) {
    throw new Error(
      `${tool} ${version} is missing: expected ${p}. Install it with scripts/setup.sh ` +
        `(etcd 3.4 comes from Debian, 3.5 and 3.6 are built from the Go module proxy).`,
    );
  }
  return p;
}

const reservedPorts = new Set<number>();

/** A free loopback port (bind to port 0, read it, release it; never hands out the same port twice). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const srv = createServer();
      srv.once('error', rej);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
      });
    });
    if (!reservedPorts.has(port)) {
      reservedPorts.add(port);
      return port;
    }
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** Polls `check` until it returns a value other than undefined/false, or throws after the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > until) {
      throw new Error(
        `timed out waiting for ${what}${lastError === undefined ? '' : `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

export interface ClusterOptions {
  version: EtcdVersion;
  /** Number of members (default 3). */
  size?: number;
  /** Member name prefix (default "etcd-"). */
  namePrefix?: string;
  /** Serve clients and peers over TLS with a generated CA. */
  tls?: boolean;
  /** Enable auth with a root user (password in a file) and an unprivileged user "reader". */
  auth?: boolean;
  /** Extra etcd flags for every member (e.g. ["--quota-backend-bytes", "16777216"]). */
  extraArgs?: string[];
}

export interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  /** Where it listens for peers when that is not where it is reached (default: peerUrl). */
  listenPeerUrl?: string;
  dataDir: string;
}

interface RunningMember extends MemberSpec {
  proc: ChildProcess | null;
  exited: Promise<void>;
  logFile: string;
  /** Arguments for a restart with the same data dir. */
  args: string[];
}

const liveClusters = new Set<EtcdTestCluster>();
process.once('exit', () => {
  for (const c of liveClusters) c.killAllSync();
});

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  serverCert: string;
  serverKey: string;
  /** A CA that did not sign anything of this cluster. */
  otherCa: string;
}

export class EtcdTestCluster {
  readonly members = new Map<string, RunningMember>();
  readonly baseDir: string;
  readonly token: string;
  tlsFiles: TlsFiles | undefined;
  readonly rootPassword = 'root-secret-pw';
  readonly readerPassword = 'reader-secret-pw';
  private readonly clients: Etcd3[] = [];

  private constructor(readonly options: ClusterOptions) {
    etcdBinary(options.version);
    this.baseDir = mkdtempSync(join(tmpdir(), `etcd-stretch-${options.version}-`));
    this.token = `test-${Math.random().toString(36).slice(2)}`;
    liveClusters.add(this);
  }

  get version(): EtcdVersion {
    return this.options.version;
  }

  get scheme(): 'http' | 'https' {
    return this.options.tls ? 'https' : 'http';
  }

  /** Starts a new cluster and waits until every member is up and a leader is elected. */
  static async start(options: ClusterOptions): Promise<EtcdTestCluster> {
    const c = new EtcdTestCluster(options);
    try {
      if (options.tls) c.tlsFiles = await c.generateTls();
      const size = options.size ?? 3;
      const prefix = options.namePrefix ?? 'etcd-';
      const specs: MemberSpec[] = [];
      for (let i = 0; i < size; i++) specs.push(await c.allocateMember(`${prefix}${i}`));
      const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
      for (const s of specs) c.spawnMember(s, initialCluster, 'new');
      await c.waitReady([...c.members.keys()]);
      if (options.auth) await c.enableAuth();
      return c;
    } catch (err) {
      await c.teardown();
      throw err;
    }
  }

  /** Ports, URLs and a fresh data dir for a member that is not started yet. */
  async allocateMember(name: string): Promise<MemberSpec> {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const dataDir = join(this.baseDir, `${name}-${clientPort}.etcd`);
    return {
      name,
      clientPort,
      peerPort,
      clientUrl: `${this.scheme}://127.0.0.1:${clientPort}`,
      peerUrl: `${this.scheme}://127.0.0.1:${peerPort}`,
      dataDir,
    };
  }

  private tlsArgs(): string[] {
    const t = this.tlsFiles;
    if (!t) return [];
    return [
      '--cert-file',
      t.serverCert,
      '--key-file',
      t.serverKey,
      '--trusted-ca-file',
      t.ca,
      '--client-cert-auth',
      '--peer-cert-file',
      t.serverCert,
      '--peer-key-file',
      t.serverKey,
      '--peer-trusted-ca-file',
      t.ca,
      '--peer-client-cert-auth',
    ];
  }

  private memberArgs(
    s: MemberSpec,
    initialCluster: string,
    state: 'new' | 'existing',
    extra: string[] = [],
  ): string[] {
    return [
      '--name',
      s.name,
      '--data-dir',
      s.dataDir,
      '--listen-client-urls',
      s.clientUrl,
      '--advertise-client-urls',
      s.clientUrl,
      '--listen-peer-urls',
      s.listenPeerUrl ?? s.peerUrl,
      '--initial-advertise-peer-urls',
      s.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      this.token,
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      '--logger',
      'zap',
      '--log-level',
      'warn',
      ...this.tlsArgs(),
      ...(this.options.extraArgs ?? []),
      ...extra,
    ];
  }

  private spawnMember(
    s: MemberSpec,
    initialCluster: string,
    state: 'new' | 'existing',
    extra: string[] = [],
  ): RunningMember {
    const args = this.memberArgs(s, initialCluster, state, extra);
    return this.launch(s, args);
  }

  private launch(s: MemberSpec, args: string[]): RunningMember {
    const logFile = join(this.baseDir, `${s.name}-${s.clientPort}.log`);
    const fd = openSync(logFile, 'a');
    const proc = spawn(etcdBinary(this.version), args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    const m: RunningMember = { ...s, proc, exited, logFile, args };
    this.members.set(s.name, m);
    return m;
  }

  member(name: string): RunningMember {
    const m = this.members.get(name);
    if (!m)
      throw new Error(`no member ${name} in this test cluster (${[...this.members.keys()].join(', ')})`);
    return m;
  }

  /** The last lines of a member's log (for failure messages). */
  logTail(name: string, lines = 20): string {
    try {
      return readFileSync(this.member(name).logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  isRunning(name: string): boolean {
    const p = this.members.get(name)?.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Client options (TLS + root auth when enabled) for test-side clients. */
  clientOptions(hosts: string[]): IOptions {
    const t = this.tlsFiles;
    return {
      hosts,
      ...(t
        ? {
            credentials: {
              rootCertificate: readFileSync(t.ca),
              certChain: readFileSync(t.cert),
              privateKey: readFileSync(t.key),
            },
          }
        : {}),
      ...(this.options.auth ? { auth: { username: 'root', password: this.rootPassword } } : {}),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 10_000 }),
    };
  }

  /** A test-side etcd3 client to the named members (default: all running); closed by teardown. */
  client(names?: string[]): Etcd3 {
    const hosts = (names ?? [...this.members.keys()].filter((n) => this.isRunning(n))).map(
      (n) => this.member(n).clientUrl,
    );
    const c = new Etcd3(this.clientOptions(hosts));
    this.clients.push(c);
    return c;
  }

  /** The activities' access description for the named members (default: all running). */
  access(names?: string[], overrides: Partial<EtcdAccess> = {}): EtcdAccess {
    const endpoints: Record<string, string> = {};
    for (const n of names ?? [...this.members.keys()].filter((x) => this.isRunning(x))) {
      endpoints[n] = this.member(n).clientUrl;
    }
    const t = this.tlsFiles;
    const access: EtcdAccess = { endpoints, timeoutMs: 3_000 };
    if (t) access.tls = { ca: { file: t.ca }, cert: { file: t.cert }, key: { file: t.key } };
    if (this.options.auth) {
      const pw = join(this.baseDir, 'root.password');
      if (!existsSync(pw)) writeFileSync(pw, `${this.rootPassword}\n`, { mode: 0o600 });
      access.auth = { username: 'root', password: { file: pw } };
    }
    return { ...access, ...overrides };
  }

  /** Waits until each named member answers status and all agree on a leader. */
  async waitReady(names: string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `members ${names.join(', ')} (etcd ${this.version}) to be ready`,
      async () => {
        const leaders = await Promise.all(
          names.map(async (n) => {
            if (!this.isRunning(n)) throw new Error(`${n} exited:\n${this.logTail(n)}`);
            const c = new Etcd3({ ...this.clientOptions([this.member(n).clientUrl]), auth: undefined });
            try {
              const s = await c.maintenance.status({ deadline: Date.now() + 2_000 });
              return s.leader;
            } finally {
              c.close();
            }
          }),
        );
        return leaders.every((l) => l !== '0' && l === leaders[0]);
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** Root user, root role, auth on; plus user "reader" without roles. */
  private async enableAuth(): Promise<void> {
    const c = new Etcd3({
      ...this.clientOptions([...this.members.values()].map((m) => m.clientUrl)),
      auth: undefined,
    });
    try {
      await c.user('root').create(this.rootPassword);
      await c.user('root').addRole('root');
      await c.user('reader').create(this.readerPassword);
      await c.auth.authEnable();
    } finally {
      c.close();
    }
  }

  private async openssl(args: string[]): Promise<void> {
    await execFileAsync('openssl', args, { cwd: this.baseDir });
  }

  private async generateTls(): Promise<TlsFiles> {
    const d = join(this.baseDir, 'pki');
    mkdirSync(d, { recursive: true });
    const f = (n: string): string => join(d, n);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    writeFileSync(
      f('server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const ca of ['ca', 'other-ca']) {
      await this.openssl([
        'req',
        '-x509',
        ...ec,
        '-keyout',
        f(`${ca}.key`),
        '-out',
        f(`${ca}.crt`),
        '-days',
        '2',
        '-subj',
        `/CN=etcd-stretch test ${ca}`,
      ]);
    }
    for (const [n, cn] of [
      ['server', 'etcd-server'],
      ['client', 'etcd-client'],
    ] as const) {
      await this.openssl([
        'req',
        ...ec,
        '-keyout',
        f(`${n}.key`),
        '-out',
        f(`${n}.csr`),
        '-subj',
        `/CN=${cn}`,
      ]);
      await this.openssl([
        'x509',
        '-req',
        '-in',
        f(`${n}.csr`),
        '-CA',
        f('ca.crt'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-out',
        f(`${n}.crt`),
        '-days',
        '2',
        '-extfile',
        f(`${n}.ext`),
      ]);
    }
    return {
      ca: f('ca.crt'),
      cert: f('client.crt'),
      key: f('client.key'),
      serverCert: f('server.crt'),
      serverKey: f('server.key'),
      otherCa: f('other-ca.crt'),
    };
  }

  /**
   * Starts the process of a member that was added through the API (learner),
   * with `--initial-cluster-state existing` and the given `--initial-cluster`.
   */
  startAddedMember(spec: MemberSpec, initialCluster: string): RunningMember {
    return this.spawnMember(spec, initialCluster, 'existing');
  }

  /** Registers a member spec without starting a process (a learner whose process never starts). */
  registerUnstarted(spec: MemberSpec): void {
    this.members.set(spec.name, { ...spec, proc: null, exited: Promise.resolve(), logFile: '', args: [] });
  }

  /** Graceful stop (SIGTERM), waits for exit. */
  async stopMember(name: string): Promise<void> {
    await this.signal(name, 'SIGTERM');
  }

  /** Hard kill (SIGKILL), waits for exit. */
  async killMember(name: string): Promise<void> {
    await this.signal(name, 'SIGKILL');
  }

  private async signal(name: string, sig: NodeJS.Signals): Promise<void> {
    const m = this.member(name);
    if (m.proc && this.isRunning(name)) {
      m.proc.kill(sig);
      await m.exited;
    }
  }

  /** Restarts a stopped member with its data dir and ports. */
  async restartMember(name: string): Promise<void> {
    const m = this.member(name);
    if (this.isRunning(name)) throw new Error(`${name} is still running`);
    if (!existsSync(m.dataDir))
      throw new Error(`${name} has no data dir any more (removed members must not restart)`);
    this.launch(m, m.args);
    await this.waitReady([name]);
  }

  /** Deletes a (stopped) member's data dir: a removed member must never start again with it. */
  async wipeMember(name: string): Promise<void> {
    await this.killMember(name);
    rmSync(this.member(name).dataDir, { recursive: true, force: true });
    this.members.delete(name);
  }

  /**
   * A divergent copy of member `name`: copies its data dir (member stopped
   * first), starts the copy as a one-member cluster (`--force-new-cluster`) on
   * new ports under `newName`. It keeps the member ID and history up to the
   * copy, then lives its own life: writes to it make its data diverge.
   */
  async startDivergentCopy(name: string, newName: string): Promise<RunningMember> {
    const src = this.member(name);
    await this.stopMember(name);
    const spec = await this.allocateMember(newName);
    cpSync(src.dataDir, spec.dataDir, { recursive: true });
    const m = this.spawnMember(spec, `${newName}=${spec.peerUrl}`, 'new', ['--force-new-cluster']);
    await this.waitReady([newName]);
    return m;
  }

  killAllSync(): void {
    for (const m of this.members.values()) {
      if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill('SIGKILL');
    }
  }

  async teardown(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    this.killAllSync();
    await Promise.all([...this.members.values()].map((m) => m.exited));
    if (!process.env.KEEP_ETCD_TEST_DIRS) rmSync(this.baseDir, { recursive: true, force: true });
    liveClusters.delete(this);
  }
}

/** The error a promise rejects with; throws if it resolves (so a test cannot pass by accident). */
export async function rejectionOf(
  p: Promise<unknown>,
): Promise<Error & { type?: string; nonRetryable?: boolean; details?: unknown[] }> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`);
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 500)}`);
}

/** Member IDs and learner flags, sorted: what "nothing changed" is compared on. */
export function membershipShape(members: { id: string; isLearner: boolean }[]): string[] {
  return members.map((m) => `${m.id}${m.isLearner ? ':learner' : ''}`).sort();
}
