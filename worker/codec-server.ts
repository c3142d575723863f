/**
 * A codec server for the Temporal Web UI and CLI: with payload encryption on, they show
 * `binary/encrypted` payloads until pointed at this server, which decodes (and encodes) payloads
 * with the same key over HTTP (`POST /decode`, `POST /encode`, body `{"payloads": [...]}` with
 * base64 metadata values and data, as Temporal's codec-server protocol has it).
 *
 * Whoever reaches it can read every payload: it listens on 127.0.0.1 by default, answers CORS
 * only for the UI origin it is given, and, with a token, only requests that carry
 * `Authorization: Bearer <token>`.
 */
import http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  port?: number;
  host?: string;
  /** The Web UI's origin allowed by CORS, e.g. http://127.0.0.1:8233. */
  uiOrigin?: string;
  /** Require `Authorization: Bearer <token>`. */
  token?: string;
}

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

async function body(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createCodecServer(opts: CodecServerOptions): http.Server {
  return http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (opts.uiOrigin && origin === opts.uiOrigin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const route = req.url?.split('?')[0] ?? '';
    if (req.method !== 'POST' || !['/encode', '/decode'].includes(route)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('POST /encode or /decode\n');
      return;
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('missing or wrong bearer token\n');
      return;
    }
    void (async () => {
      try {
        const parsed = JSON.parse(await body(req)) as { payloads?: JsonPayload[] };
        if (!Array.isArray(parsed.payloads)) throw new Error('body must be {"payloads": [...]}');
        const payloads = parsed.payloads.map(fromJson);
        const out =
          route === '/encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ payloads: out.map(toJson) }));
      } catch (err) {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      }
    })();
  });
}

/** Starts the server; resolves with its URL once it listens. */
export async function startCodecServer(
  opts: CodecServerOptions,
): Promise<{ url: string; server: http.Server; close: () => Promise<void> }> {
  const server = createCodecServer(opts);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
