/**
 * Connections to etcd members.
 *
 * Every client talks to exactly one member (one URL of the endpoint map):
 * per-member calls must reach that member and no other, and cluster-wide calls
 * fail over between voters explicitly (`anyVoter`), so that every error names
 * the member it came from. Every call carries a deadline.
 *
 * TLS material and credentials are read by the worker through the
 * `SecretResolver` once per connection; only references travel in workflow
 * inputs.
 */
import {
  Etcd3,
  type IHashKVRequest,
  type IHashKVResponse,
  type IOptions,
  type MaintenanceClient,
} from 'etcd3';
import type * as GrpcJs from '@grpc/grpc-js';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { classifyEtcdError, InvalidRequest, isUnavailable } from './errors.js';
import { readSecretText, type SecretResolver } from '../secret-ref.js';
import { checkServerName } from '../tls-server-name.js';
import type { EtcdAccess } from './types.js';
import { EtcdClientPool } from './client-pool.js';

export const DEFAULT_TIMEOUT_MS = 5_000;

/** gRPC call options (deadline), as etcd3 takes them. */
export type CallOptions = NonNullable<Parameters<MaintenanceClient['status']>[0]>;

const secretRefSchema = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z
    .object({
      secret: z
        .object({
          context: z.string().min(1).optional(),
          namespace: z.string().min(1),
          name: z.string().min(1),
          key: z.string().min(1),
        })
        .strict(),
    })
    .strict(),
]);

export const etcdAccessSchema = z
  .object({
    endpoints: z
      .record(z.string().min(1), z.string().regex(/^https?:\/\/[^/]+\/?$/, 'must be http(s)://host:port'))
      .refine((e) => Object.keys(e).length > 0, 'at least one endpoint is required'),
    tls: z
      .object({
        ca: secretRefSchema,
        cert: secretRefSchema.optional(),
        key: secretRefSchema.optional(),
        serverName: z.string().min(1).optional(),
        serverNames: z.record(z.string().min(1), z.string().min(1)).optional(),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key must be given together')
      .optional(),
    auth: z
      .object({ username: z.union([z.string().min(1), secretRefSchema]), password: secretRefSchema })
      .strict()
      .optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict();

export function validateAccess(access: unknown): EtcdAccess {
  const parsed = etcdAccessSchema.safeParse(access);
  if (!parsed.success) {
    throw new InvalidRequest(`invalid etcd access: ${z.prettifyError(parsed.error)}`);
  }
  const valid: EtcdAccess = parsed.data;
  return valid;
}

type FaultPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * A pass-through fault policy: etcd3's defaults retry three times and open a
 * circuit breaker; we want exactly one attempt per call, with its deadline, so
 * that callers decide about retries (and Temporal records them).
 */
export const passThrough = {
  execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> {
    return Promise.resolve().then(() => fn({ signal: new AbortController().signal }));
  },
} as unknown as FaultPolicy;

export interface CallSpec {
  /** What is being done, for error messages ("member list"). */
  operation: string;
  /** Overrides the connection's per-call deadline. */
  timeoutMs?: number;
}

export class EtcdConnection {
  readonly timeoutMs: number;
  private readonly clients = new Map<string, Etcd3>();
  /** Members whose client had a call fail: not kept for the next connection. */
  private readonly failed = new Set<string>();
  private pool?: EtcdClientPool;
  /** Hash of what every member's channel authenticates with, for the pool's keys. */
  private credentialsKey = '';

  private constructor(
    readonly access: EtcdAccess,
    private readonly options: Omit<IOptions, 'hosts'>,
    private readonly tlsMaterial?: { ca: Buffer; cert?: Buffer; key?: Buffer },
  ) {
    this.timeoutMs = access.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Validates the access description and resolves its secrets. With `pool`, the member clients
   * come from it when it keeps one, and go back to it on close (client-pool.ts).
   */
  static async open(
    access: EtcdAccess,
    secrets: SecretResolver,
    pool?: EtcdClientPool,
  ): Promise<EtcdConnection> {
    const valid = validateAccess(access);
    const timeoutMs = valid.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const options: Omit<IOptions, 'hosts'> = {
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      faultHandling: { global: passThrough, host: () => passThrough },
      // A member that is starting (a new learner) must be picked up quickly, not after gRPC's
      // default exponential reconnect backoff (1 s growing to 120 s).
      // Each connection gets its own subchannels: grpc-js otherwise shares them process-wide,
      // and a long-lived worker kept a member unreachable after its pod IP had changed hands.
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
        'grpc.use_local_subchannel_pool': 1,
      },
    };
    let tlsMaterial: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined;
    if (valid.tls) {
      const [ca, cert, key] = await Promise.all([
        secrets.read(valid.tls.ca),
        valid.tls.cert ? secrets.read(valid.tls.cert) : Promise.resolve(undefined),
        valid.tls.key ? secrets.read(valid.tls.key) : Promise.resolve(undefined),
      ]);
      options.credentials = {
        rootCertificate: ca,
        ...(key ? { privateKey: key } : {}),
        ...(cert ? { certChain: cert } : {}),
      };
      tlsMaterial = { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
      if (valid.tls.serverName) {
        options.grpcOptions = {
          ...options.grpcOptions,
          'grpc.ssl_target_name_override': valid.tls.serverName,
          'grpc.default_authority': valid.tls.serverName,
        };
      }
    }
    if (valid.auth) {
      const username =
        typeof valid.auth.username === 'string'
          ? valid.auth.username
          : await readSecretText(secrets, valid.auth.username);
      const password = await readSecretText(secrets, valid.auth.password);
      options.auth = { username, password, callOptions: () => ({ deadline: Date.now() + timeoutMs }) };
    }
    const conn = new EtcdConnection(valid, options, tlsMaterial);
    if (pool) {
      conn.pool = pool;
      conn.credentialsKey = EtcdClientPool.keyOf({
        tlsMaterial,
        serverName: valid.tls?.serverName,
        username: options.auth?.username,
        password: options.auth?.password,
        timeoutMs,
      });
    }
    return conn;
  }

  private poolKeyOf(name: string): string {
    return `${this.credentialsKey} ${this.endpointOf(name)} ${this.access.tls?.serverNames?.[name] ?? ''}`;
  }

  /** Names of the endpoint map, in map order. */
  get names(): string[] {
    return Object.keys(this.access.endpoints);
  }

  endpointOf(name: string): string {
    const url = this.access.endpoints[name];
    if (url === undefined) {
      throw new InvalidRequest(
        `no client endpoint for member "${name}" in the endpoint map (known: ${this.names.join(', ') || 'none'})`,
        { details: { name, known: this.names } },
      );
    }
    return url;
  }

  /** The etcd3 client for one member (created on first use, closed by `close`). */
  client(name: string): Etcd3 {
    let c = this.clients.get(name);
    if (!c && this.pool) {
      c = this.pool.take(this.poolKeyOf(name));
      if (c) this.clients.set(name, c);
    }
    if (!c) {
      // The name the member's certificate is checked against, when the URL holds its pod IP.
      const serverName = this.access.tls?.serverNames?.[name];
      const options = serverName
        ? {
            ...this.options,
            grpcOptions: {
              ...this.options.grpcOptions,
              'grpc.ssl_target_name_override': serverName,
              'grpc.default_authority': serverName,
            },
          }
        : this.options;
      c = new Etcd3({ ...options, hosts: [this.endpointOf(name)] });
      if (options.credentials) useEtcdServerNameRules(c, options.credentials);
      if (options.auth) patchEtcd3Authentication(c);
      this.clients.set(name, c);
    }
    return c;
  }

  /** Call options with a fresh deadline. */
  deadline(timeoutMs?: number): CallOptions {
    return { deadline: Date.now() + (timeoutMs ?? this.timeoutMs) };
  }

  /**
   * Runs one call against one member with a deadline; errors come out typed
   * (`classifyEtcdError`) and name the member and the operation.
   */
  async call<T>(
    name: string,
    spec: CallSpec,
    fn: (client: Etcd3, options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const client = this.client(name);
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    // Belt and braces: gRPC deadlines should fire, but never wait forever on a hung call.
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`DEADLINE_EXCEEDED: no answer within ${timeoutMs + 2_000} ms`)),
        timeoutMs + 2_000,
      );
    });
    try {
      return await Promise.race([fn(client, this.deadline(timeoutMs)), guard]);
    } catch (err) {
      this.failed.add(name);
      throw classifyEtcdError(err, { operation: spec.operation, target: `${name} ${this.endpointOf(name)}` });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs a cluster-wide call through the first of `names` that answers.
   * Falls over to the next member only when a member is unreachable; any other
   * answer (permission denied, etcd refusing the request) is final.
   */
  async anyOf<T>(
    names: string[],
    spec: CallSpec,
    fn: (client: Etcd3, options: CallOptions, name: string) => Promise<T>,
  ): Promise<{ value: T; name: string }> {
    if (names.length === 0) {
      throw new InvalidRequest(
        `${spec.operation}: no endpoint to call (endpoint map: ${this.names.join(', ')})`,
      );
    }
    let last: unknown;
    for (const name of names) {
      try {
        return { value: await this.call(name, spec, (c, o) => fn(c, o, name)), name };
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        last = err;
      }
    }
    throw last;
  }

  /**
   * GET `path` (e.g. `/metrics`) from one member's client URL over HTTP(S), with the same CA,
   * client certificate and server name as its gRPC calls. Rejects on a non-200 answer.
   */
  httpGet(name: string, path: string, timeoutMs?: number): Promise<string> {
    const base = this.endpointOf(name);
    const url = new URL(
      path,
      /^\w+:\/\//.test(base) ? base : `${this.tlsMaterial ? 'https' : 'http'}://${base}`,
    );
    const serverName = this.access.tls?.serverNames?.[name] ?? this.access.tls?.serverName;
    const options: https.RequestOptions = {
      timeout: timeoutMs ?? this.timeoutMs,
      ...(this.tlsMaterial && url.protocol === 'https:'
        ? {
            ...this.tlsMaterial,
            checkServerIdentity: checkServerName,
            ...(serverName ? { servername: serverName } : {}),
          }
        : {}),
    };
    const get = url.protocol === 'https:' ? https.get : http.get;
    return new Promise((resolve, reject) => {
      const req = get(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve(body);
          else reject(new Error(`GET ${url.href} from ${name}: HTTP ${res.statusCode}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${url.href} from ${name}: no answer in time`)));
      req.on('error', reject);
    });
  }

  close(): void {
    for (const [name, c] of this.clients) {
      if (this.pool) this.pool.give(this.poolKeyOf(name), c, !this.failed.has(name));
      else c.close();
    }
    this.clients.clear();
  }
}

/**
 * `maintenance.hashKV` of etcd3 1.1.2 is broken: it calls the gRPC method
 * `hashKV`, but @grpc/proto-loader names it `hashKv` ("client[method] is not a
 * function"). Call the method under its real name through the client's own
 * connection pool (same deadline, TLS and auth handling).
 */
interface RawPool {
  exec<T>(service: 'Maintenance', method: string, payload: unknown, options?: CallOptions): Promise<T>;
}

export function hashKVRaw(
  client: Etcd3,
  req: IHashKVRequest,
  options: CallOptions,
): Promise<IHashKVResponse> {
  const pool = (client as unknown as { pool: RawPool }).pool;
  return pool.exec<IHashKVResponse>('Maintenance', 'hashKv', req, options);
}

/** Opens a connection, runs `fn`, always closes it (its clients back to `pool`, when given). */
export async function withConnection<T>(
  access: EtcdAccess,
  secrets: SecretResolver,
  fn: (conn: EtcdConnection) => Promise<T>,
  pool?: EtcdClientPool,
): Promise<T> {
  const conn = await EtcdConnection.open(access, secrets, pool);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}

// etcd3's own copy of grpc-js: its calls tell metadata from options with instanceof.
const etcd3Require = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const { Metadata, credentials: grpcCredentials } = etcd3Require('@grpc/grpc-js') as typeof GrpcJs;
type Metadata = InstanceType<typeof Metadata>;

/**
 * Checks a client's server certificates by etcd's rules (`tls-server-name.ts`) instead of Node's:
 * etcd3 1.1.2 makes its channel credentials without `verifyOptions`, so a member certificate for
 * `*.etcd`, which etcd's own clients accept for `etcd-0.etcd`, would be refused. Replaces the
 * credentials of the client's hosts; call it right after `new Etcd3`, before the first call
 * (gRPC clients are made on first use). grpc-js applies `grpc.ssl_target_name_override` around
 * this check, so the name checked is the override when one is set.
 */
export function useEtcdServerNameRules(client: Etcd3, tls: NonNullable<IOptions['credentials']>): void {
  const pool = (client as unknown as { pool: { hosts: { channelCredentials: unknown }[] } }).pool;
  const channelCredentials = grpcCredentials.createSsl(
    tls.rootCertificate,
    tls.privateKey ?? null,
    tls.certChain ?? null,
    { checkServerIdentity: checkServerName },
  );
  for (const host of pool.hosts) host.channelCredentials = channelCredentials;
}

interface RawAuthClient {
  authenticate(
    request: { name: string; password: string },
    options: object,
    callback: (err: Error | null, response?: { token: string }) => void,
  ): void;
}
interface RawHost {
  host: string;
  getServiceClient(name: 'Auth'): RawAuthClient;
}
interface RawAuthenticator {
  getCredentialsFromHost(
    address: string,
    name: string,
    password: string,
    callOptions?: object,
  ): Promise<string>;
  getMetadata(): Promise<Metadata>;
}

/**
 * Two gaps of etcd3 1.1.2's authentication (user + password -> token, before the first call):
 *
 * - it authenticates over a channel of its own that ignores `grpcOptions`, so a TLS server-name
 *   override (`grpc.ssl_target_name_override`: the URL holds a pod IP, the certificate a DNS name)
 *   does not apply and the handshake fails: authenticate over the host's own channel instead;
 * - a learner refuses `Authenticate` ("rpc not supported for learner"), so every call to a started
 *   learner failed; the calls the migration makes to a learner (`Status`, serializable reads) need
 *   no token (etcd checks no permission for them), so go on without one. Simple tokens are local to
 *   the member that issued them, so a voter's token would not do. Once promoted, the member
 *   authenticates as usual.
 */
export function patchEtcd3Authentication(client: Etcd3): void {
  const pool = (client as unknown as { pool: { authenticator: RawAuthenticator; hosts: RawHost[] } }).pool;
  const authenticator = pool.authenticator;
  authenticator.getCredentialsFromHost = (address, name, password, callOptions) => {
    const host = pool.hosts.find((h) => h.host === address) ?? pool.hosts[0]!;
    return new Promise<string>((resolve, reject) => {
      host.getServiceClient('Auth').authenticate({ name, password }, callOptions ?? {}, (err, response) => {
        if (err) reject(err);
        else resolve(response!.token);
      });
    });
  };
  const getMetadata = authenticator.getMetadata.bind(authenticator);
  authenticator.getMetadata = () =>
    getMetadata().catch((err: unknown) => {
      if (err instanceof Error && /not supported for learner/.test(err.message)) return new Metadata();
      throw err;
    });
}
