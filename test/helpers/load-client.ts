/**
 * A client load that runs through a whole migration: puts of unique values and linearizable gets,
 * at a fixed rate, each operation retried on the next endpoint for up to 2 s (as etcd's own clients
 * fail over). Every operation is kept in a history for the checker.
 */
import { Etcd3 } from 'etcd3';
import { patchEtcd3Authentication, useEtcdServerNameRules } from '../../activities/etcd/connection.js';

export type Outcome = 'ok' | 'failed' | 'indeterminate';

export interface Operation {
  seq: number;
  type: 'put' | 'get';
  key: string;
  /** put: the value written; get: the value read (undefined: key absent). */
  value?: string;
  start: number;
  end: number;
  outcome: Outcome;
  attempts: number;
  endpoint?: string;
  error?: string;
  /** When an operation succeeded after a failed attempt: that first attempt's error. */
  firstError?: string;
}

export interface LoadClientTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Endpoint URL -> the name its server certificate carries (the URL holds a pod IP). */
  serverNames?: Record<string, string>;
}

export interface LoadClientOptions {
  endpoints: string[];
  tls?: LoadClientTls;
  auth?: { username: string; password: string };
  opsPerSecond?: number;
  keys?: number;
  prefix?: string;
  retryForMs?: number;
  attemptTimeoutMs?: number;
  /** Called with each operation as it enters the history. */
  onOperation?: (op: Operation) => void;
}

// Errors after which a write may or may not have been applied.
const AMBIGUOUS = /deadline|timed? ?out|reset|closed|unavailable|EPIPE|socket hang up|cancel/i;

export class LoadClient {
  readonly history: Operation[] = [];
  private endpoints: string[];
  private clients = new Map<string, Etcd3>();
  private next = 0;
  private running = false;
  private loop?: Promise<void>;
  private inFlight?: Promise<void>;
  private seq = 0;
  private readonly rate: number;
  private readonly keys: number;
  private readonly prefix: string;
  private readonly retryForMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly tls?: LoadClientTls;
  private readonly auth?: { username: string; password: string };
  private readonly onOperation?: (op: Operation) => void;

  constructor(opts: LoadClientOptions) {
    this.endpoints = [...opts.endpoints];
    this.tls = opts.tls ? { ...opts.tls, serverNames: { ...opts.tls.serverNames } } : undefined;
    this.auth = opts.auth;
    this.rate = opts.opsPerSecond ?? 120;
    this.keys = opts.keys ?? 50;
    this.prefix = opts.prefix ?? `load/${Date.now()}/`;
    this.retryForMs = opts.retryForMs ?? 2000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 1000;
    this.onOperation = opts.onOperation;
  }

  /** Switch the clients to other endpoints (the client-switch gate). */
  setEndpoints(endpoints: string[], serverNames: Record<string, string> = {}): void {
    if (this.tls) Object.assign(this.tls.serverNames!, serverNames);
    this.endpoints = [...endpoints];
    this.next = 0;
  }

  /**
   * Connects to each endpoint (TLS handshake, authentication) before traffic goes there, as a
   * real client has its connections open; with TLS on a loaded machine the first call alone can
   * take longer than one attempt's timeout.
   */
  async warmUp(
    endpoints: string[] = this.endpoints,
    serverNames: Record<string, string> = {},
  ): Promise<void> {
    if (this.tls) Object.assign(this.tls.serverNames!, serverNames);
    await Promise.all(
      endpoints.map((e) => withTimeout(this.client(e).get(`${this.prefix}warm-up`).string(), 15_000)),
    );
  }

  currentEndpoints(): string[] {
    return [...this.endpoints];
  }

  private client(endpoint: string): Etcd3 {
    let c = this.clients.get(endpoint);
    if (!c) {
      const serverName = this.tls?.serverNames?.[endpoint];
      c = new Etcd3({
        hosts: endpoint,
        dialTimeout: 1000,
        ...(this.tls
          ? {
              credentials: {
                rootCertificate: this.tls.ca,
                ...(this.tls.cert ? { certChain: this.tls.cert } : {}),
                ...(this.tls.key ? { privateKey: this.tls.key } : {}),
              },
            }
          : {}),
        ...(serverName
          ? {
              grpcOptions: {
                'grpc.ssl_target_name_override': serverName,
                'grpc.default_authority': serverName,
              },
            }
          : {}),
        ...(this.auth ? { auth: this.auth } : {}),
      });
      if (this.tls) {
        useEtcdServerNameRules(c, {
          rootCertificate: this.tls.ca,
          ...(this.tls.cert ? { certChain: this.tls.cert } : {}),
          ...(this.tls.key ? { privateKey: this.tls.key } : {}),
        });
      }
      if (this.auth) patchEtcd3Authentication(c);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  private async attempt<T>(
    fn: (c: Etcd3) => Promise<T>,
  ): Promise<
    | { value: T; endpoint: string; attempts: number; firstError?: string }
    | { error: string; ambiguous: boolean; attempts: number }
  > {
    const deadline = Date.now() + this.retryForMs;
    let attempts = 0;
    let ambiguous = false;
    let lastError = '';
    let firstError: string | undefined;
    while (attempts === 0 || Date.now() < deadline) {
      const endpoint = this.endpoints[this.next % this.endpoints.length]!;
      attempts++;
      try {
        const value = await withTimeout(
          fn(this.client(endpoint)),
          Math.min(this.attemptTimeoutMs, Math.max(50, deadline - Date.now())),
        );
        return { value, endpoint, attempts, ...(firstError ? { firstError } : {}) };
      } catch (err) {
        lastError = `${endpoint}: ${err instanceof Error ? err.message : String(err)}`;
        firstError ??= lastError;
        if (AMBIGUOUS.test(lastError)) ambiguous = true;
        this.next++;
        // A refused attempt can fail without any I/O (the client's circuit breaker is open): without
        // a pause the retries would spin on microtasks and starve timers and I/O in this process.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    return { error: lastError, ambiguous, attempts };
  }

  private async step(): Promise<void> {
    const seq = ++this.seq;
    const key = `${this.prefix}${seq % this.keys}`;
    const start = Date.now();
    if (seq % 2 === 1) {
      const value = `v${seq}`;
      const r = await this.attempt((c) => c.put(key).value(value).exec());
      this.record({
        seq,
        type: 'put',
        key,
        value,
        start,
        end: Date.now(),
        outcome: 'value' in r ? 'ok' : r.ambiguous ? 'indeterminate' : 'failed',
        attempts: r.attempts,
        endpoint: 'endpoint' in r ? r.endpoint : undefined,
        error: 'error' in r ? r.error : undefined,
        firstError: 'firstError' in r ? r.firstError : undefined,
      });
    } else {
      const readKey = `${this.prefix}${(seq - 1) % this.keys}`;
      const r = await this.attempt((c) => c.get(readKey).string());
      this.record({
        seq,
        type: 'get',
        key: readKey,
        value: 'value' in r ? (r.value ?? undefined) : undefined,
        start,
        end: Date.now(),
        outcome: 'value' in r ? 'ok' : 'failed',
        attempts: r.attempts,
        endpoint: 'endpoint' in r ? r.endpoint : undefined,
        error: 'error' in r ? r.error : undefined,
        firstError: 'firstError' in r ? r.firstError : undefined,
      });
    }
  }

  private record(op: Operation): void {
    this.history.push(op);
    this.onOperation?.(op);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const interval = 1000 / this.rate;
    this.loop = (async () => {
      let due = Date.now();
      while (this.running) {
        this.inFlight = this.step();
        await this.inFlight;
        due += interval;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else due = Date.now(); // behind (an operation retried): do not burst to catch up
      }
    })();
  }

  /** Resolves when the operation in flight now (if any) has ended, e.g. one sent before `setEndpoints`. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  summary(): LoadSummary {
    return summarize(this.history);
  }
}

export interface LoadSummary {
  opsTotal: number;
  ok: number;
  failedOps: number;
  indeterminateOps: number;
  maxWriteGapMs: number;
  /** The longest gaps between acknowledged writes, with when they ended. */
  longestWriteGaps: { endedAt: string; gapMs: number }[];
  durationMs: number;
  opsPerSecond: number;
  firstFailures: string[];
}

export function summarize(history: Operation[]): LoadSummary {
  const puts = history.filter((o) => o.type === 'put' && o.outcome === 'ok').sort((a, b) => a.end - b.end);
  const first = history.reduce((m, o) => Math.min(m, o.start), history[0]?.start ?? 0);
  const last = history.reduce((m, o) => Math.max(m, o.end), 0);
  // From the first operation to the first acknowledged write, between writes, and from the last
  // acknowledged write to the end: an outage that lasts to the end of the run is a gap too.
  const marks = [first, ...puts.map((p) => p.end), last];
  const gaps: { endedAt: string; gapMs: number }[] = [];
  for (let i = 1; i < marks.length; i++) {
    gaps.push({ endedAt: new Date(marks[i]!).toISOString(), gapMs: marks[i]! - marks[i - 1]! });
  }
  gaps.sort((a, b) => b.gapMs - a.gapMs);
  const maxGap = history.length ? (gaps[0]?.gapMs ?? 0) : 0;
  return {
    opsTotal: history.length,
    ok: history.filter((o) => o.outcome === 'ok').length,
    failedOps: history.filter((o) => o.outcome === 'failed').length,
    indeterminateOps: history.filter((o) => o.outcome === 'indeterminate').length,
    maxWriteGapMs: maxGap,
    longestWriteGaps: gaps.slice(0, 5),
    durationMs: last - first,
    opsPerSecond: last > first ? Math.round((history.length * 1000) / (last - first)) : 0,
    firstFailures: history
      .filter((o) => o.outcome !== 'ok')
      .slice(0, 5)
      .map((o) => `${o.type} ${o.key}: ${o.error ?? ''}`),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** What the cluster holds now for every key the history touched (undefined: absent). */
export async function readFinalValues(
  reader: Etcd3,
  history: Operation[],
): Promise<Map<string, string | undefined>> {
  const values = new Map<string, string | undefined>();
  for (const key of new Set(history.map((o) => o.key)))
    values.set(key, (await reader.get(key).string()) ?? undefined);
  return values;
}
