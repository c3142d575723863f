/**
 * The load client (load-client.ts) in a child process: inside a cluster's client namespace
 * (sandbox/client-netns.ts), so it is a client of that cluster as the applications are (it
 * resolves member names through the cluster's DNS view and reaches what a pod there reaches); or
 * on this host, so that what this process runs (a benchmark's worker) does not delay its turns.
 * Commands go to the child as JSON lines on its stdin, acknowledged on its stdout; the child appends
 * each operation to a history file, read back at stop. A child that exits before stop makes stop
 * (and any pending command) reject with its exit status and the end of its stderr.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { REPO_ROOT } from '../../sandbox/config.js';
import type { ClientNetns } from '../../sandbox/client-netns.js';
import { summarize, type LoadClientOptions, type LoadSummary, type Operation } from './load-client.js';
import type { LagSample } from './event-loop-lag.js';

/** What the scenarios use of a load client, in this process (LoadClient) or in a child process. */
export interface ScenarioLoadClient {
  start(): void | Promise<void>;
  /** Opens connections to `endpoints` before traffic goes there, as a real client has them open. */
  warmUp(endpoints?: string[], serverNames?: Record<string, string>): Promise<void>;
  setEndpoints(endpoints: string[], serverNames?: Record<string, string>): void | Promise<void>;
  stop(): Promise<void>;
  close(): void;
  currentEndpoints(): string[];
  readonly history: Operation[];
  summary(): LoadSummary;
}

/** LoadClientOptions as JSON: the TLS material base64-encoded. */
export type WireLoadOptions = Omit<LoadClientOptions, 'tls' | 'onOperation'> & {
  tls?: { ca: string; cert?: string; key?: string; serverNames?: Record<string, string> };
};

type Command =
  | { cmd: 'init'; options: WireLoadOptions; historyFile: string; recordLag?: boolean }
  | { cmd: 'warmUp'; endpoints?: string[]; serverNames?: Record<string, string> }
  | { cmd: 'start' }
  | { cmd: 'setEndpoints'; endpoints: string[]; serverNames?: Record<string, string> }
  | { cmd: 'stop' };
export type LoadCommand = Command & { id: number };
export type LoadReply = { id: number; ok: true } | { id: number; error: string };

export interface RemoteLoadClientOptions extends Omit<LoadClientOptions, 'onOperation'> {
  /** Where the client runs (default: a child process on this host). */
  netns?: ClientNetns;
  /** Record how late the child's timers fire (`lags`, read at stop). */
  recordLag?: boolean;
  /**
   * The child's niceness, e.g. negative: an application on a node of its own is not kept waiting
   * by what else runs here. The child then gets a session of its own, and with it a scheduler
   * autogroup (the kernel weighs each session's group alike, whatever its processes' niceness):
   * `nice -n` sets the process's, /proc/<pid>/autogroup the group's. Lowering them needs root;
   * otherwise each stays as it was.
   */
  nice?: number;
}

const ENTRY = path.join(REPO_ROOT, 'test', 'helpers', 'load-client-process.ts');
/** What the child inherits: nothing that names a cluster or a credential. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];
const STDERR_TAIL = 4000;
// Generous: loading the modules under tsx on a busy machine, or a stop waiting out a retried operation.
const COMMAND_TIMEOUT_MS = 120_000;

function toWire(opts: RemoteLoadClientOptions): WireLoadOptions {
  const { netns: _netns, recordLag: _recordLag, nice: _nice, tls, ...rest } = opts;
  const b64 = (b?: Buffer) => b?.toString('base64');
  return {
    ...rest,
    ...(tls
      ? { tls: { ca: b64(tls.ca)!, cert: b64(tls.cert), key: b64(tls.key), serverNames: tls.serverNames } }
      : {}),
  };
}

export class RemoteLoadClient implements ScenarioLoadClient {
  /** Where the child runs, for messages. */
  readonly netns: string;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly dir: string;
  private readonly historyFile: string;
  private readonly closed: Promise<void>;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private stderr = '';
  private stopped = false;
  /** Set when the child ended before it acknowledged stop. */
  private exitError?: Error;
  private ops?: Operation[];
  private lagSamples?: LagSample[];
  private endpoints: string[];

  private constructor(opts: RemoteLoadClientOptions) {
    this.netns = opts.netns?.netns ?? 'a child process';
    this.endpoints = [...opts.endpoints];
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-load-client-'));
    this.historyFile = path.join(this.dir, 'history.jsonl');
    const env = {
      ...Object.fromEntries(INHERITED_ENV.filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
      NODE_NO_WARNINGS: '1',
    };
    const args = ['--import', 'tsx', ENTRY];
    const node: [string, ...string[]] = opts.netns
      ? ['ip', ...opts.netns.execArgs(process.execPath, args)]
      : [process.execPath, ...args];
    const [cmd, ...cmdArgs]: [string, ...string[]] =
      opts.nice === undefined ? node : ['nice', '-n', String(opts.nice), ...node];
    this.child = spawn(cmd, cmdArgs, {
      cwd: REPO_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: opts.nice !== undefined,
    });
    if (opts.nice !== undefined && this.child.pid) setGroupNice(this.child.pid, opts.nice);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
    });
    // A write after the child is gone: reported through the exit below.
    this.child.stdin.on('error', () => undefined);
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => this.onReply(line));
    this.closed = new Promise((resolve) => {
      const ended = (why: string) => {
        if (!this.stopped && !this.exitError) {
          this.exitError = new Error(
            `the load client in ${this.netns} ${why} before stop${this.stderr ? `:\n${this.stderr}` : ''}`,
          );
        }
        for (const p of this.pending.values())
          p.reject(this.exitError ?? new Error(`the load client ${why}`));
        this.pending.clear();
        resolve();
      };
      this.child.once('error', (err) => ended(`could not run (${err.message})`));
      this.child.once('close', (code, signal) => ended(`exited (${signal ?? `code ${code}`})`));
    });
  }

  /** Starts the child (in `opts.netns`) with the load client's options; resolves once it runs there. */
  static async launch(opts: RemoteLoadClientOptions): Promise<RemoteLoadClient> {
    const c = new RemoteLoadClient(opts);
    try {
      await c.request({
        cmd: 'init',
        options: toWire(opts),
        historyFile: c.historyFile,
        ...(opts.recordLag ? { recordLag: true } : {}),
      });
      if (opts.netns && !(await opts.netns.holds(c.child.pid!)))
        throw new Error(`the load client (pid ${c.child.pid}) does not run in ${c.netns}`);
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The niceness of the child and of its autogroup (from /proc; undefined once it has ended). */
  niceness(): { process: number; group?: number } | undefined {
    try {
      // The fields after the command's name, which is in parentheses: niceness is the 19th field.
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const group = /nice (-?\d+)/.exec(readOr(`/proc/${this.pid}/autogroup`, ''))?.[1];
      return {
        process: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
        ...(group === undefined ? {} : { group: Number(group) }),
      };
    } catch {
      return undefined;
    }
  }

  private onReply(line: string): void {
    let reply: LoadReply;
    try {
      reply = JSON.parse(line) as LoadReply;
    } catch {
      this.stderr = (this.stderr + `stdout: ${line}\n`).slice(-STDERR_TAIL);
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if ('error' in reply) p.reject(new Error(`load client in ${this.netns}: ${reply.error}`));
    else p.resolve();
  }

  private request(command: Command): Promise<void> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(`load client in ${this.netns}: no answer to ${command.cmd} in ${COMMAND_TIMEOUT_MS} ms`),
        );
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.stdin.write(JSON.stringify({ ...command, id }) + '\n');
    });
  }

  async warmUp(endpoints?: string[], serverNames?: Record<string, string>): Promise<void> {
    await this.request({ cmd: 'warmUp', endpoints, serverNames });
  }

  async start(): Promise<void> {
    await this.request({ cmd: 'start' });
  }

  async setEndpoints(endpoints: string[], serverNames?: Record<string, string>): Promise<void> {
    await this.request({ cmd: 'setEndpoints', endpoints, serverNames });
    this.endpoints = [...endpoints];
  }

  currentEndpoints(): string[] {
    return [...this.endpoints];
  }

  /**
   * Stops the load, lets the child end and reads its history. Rejects when the child had exited
   * before (the history then holds what it recorded until then).
   */
  async stop(): Promise<void> {
    if (this.ops) {
      if (this.exitError) throw this.exitError;
      return;
    }
    try {
      await this.request({ cmd: 'stop' });
      this.stopped = true;
      this.child.stdin.end();
      await this.closed;
    } finally {
      this.ops = readHistory(this.historyFile);
      this.lagSamples = readLags(lagFileOf(this.historyFile));
    }
  }

  /** With `recordLag`: how late the child's timers fired (read at stop). */
  get lags(): LagSample[] | undefined {
    return this.lagSamples;
  }

  /** Kills the child if it still runs and removes its files; the history read at stop stays. */
  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.stopped = true;
      this.child.kill('SIGKILL');
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  get history(): Operation[] {
    if (!this.ops) throw new Error(`the history of the load client in ${this.netns} is read at stop()`);
    return this.ops;
  }

  summary(): LoadSummary {
    return summarize(this.history);
  }
}

function readOr(file: string, otherwise: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return otherwise;
  }
}

/** The niceness of `pid`'s autogroup: refused without root, absent without autogroups. */
function setGroupNice(pid: number, nice: number): void {
  try {
    fs.writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // left as it was: niceness() says what the child got
  }
}

/** Where the child writes its timer delays at stop. */
export function lagFileOf(historyFile: string): string {
  return `${historyFile}.lags.json`;
}

function readLags(file: string): LagSample[] | undefined {
  return (JSON.parse(readOr(file, 'null')) as LagSample[] | null) ?? undefined;
}

/** The operations in the file, but a last line the child did not finish writing. */
function readHistory(file: string): Operation[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const ops: Operation[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      ops.push(JSON.parse(line) as Operation);
    } catch {
      break;
    }
  }
  return ops;
}
