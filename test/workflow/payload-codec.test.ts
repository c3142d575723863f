/**
 * Optional payload encryption: a whole migration (fake activities) runs with the AES-GCM codec in
 * worker and client; the stored history holds only encrypted payloads (read with a client without
 * the key), the client with the key reads the result, and the codec server decodes a stored
 * payload for the Web UI, refusing requests without its token.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { REGISTER_JOIN_UNDO_FIRST_PATCH, type etcdMigration } from '../../workflows/migration-workflow.js';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  dataConverterFromEnvironment,
  payloadCodecFromEnvironment,
} from '../../worker/payload-codec.js';
import { startCodecServer } from '../../worker/codec-server.js';
import { historyText } from '../helpers/history-secrets.js';
import { createFakeActivities } from './fake-activities.js';
import { allGates, startTestEnvironment, testSpec, workflowBundle } from './harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const key = randomBytes(32);
const keyEnv = { ETCD_STRETCH_PAYLOAD_KEY: key.toString('base64'), ETCD_STRETCH_PAYLOAD_KEY_ID: 'test-key' };
const enc = (s: string) => new TextEncoder().encode(s);

describe('payload codec', () => {
  it('round-trips, names a foreign key id, and refuses an altered payload', async () => {
    const codec = payloadCodecFromEnvironment(keyEnv)!;
    const plain = { metadata: { encoding: enc('json/plain') }, data: enc('{"secretRef":"etcd-root"}') };
    const [sealed] = await codec.encode([plain]);
    expect(new TextDecoder().decode(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('etcd-root');
    expect(await codec.decode([sealed!])).toEqual([plain]);
    const other = new AesGcmPayloadCodec(randomBytes(32), 'other-key');
    await expect(other.decode([sealed!])).rejects.toThrow(
      /encrypted with key "test-key".*holds key "other-key"/,
    );
    const altered = { ...sealed!, data: Uint8Array.from(sealed!.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([altered])).rejects.toThrow(/wrong key or altered payload/);
  });

  it('is off without a key and refuses a key of the wrong size with one message', () => {
    expect(dataConverterFromEnvironment({})).toBeUndefined();
    expect(() => payloadCodecFromEnvironment({ ETCD_STRETCH_PAYLOAD_KEY: 'c2hvcnQ=' })).toThrow(
      'ETCD_STRETCH_PAYLOAD_KEY must hold 32 bytes in base64 (openssl rand -base64 32), got 5 bytes',
    );
  });

  it('encrypts every payload of a whole migration in the stored history', async () => {
    const dataConverter = dataConverterFromEnvironment(keyEnv)!;
    const taskQueue = `codec-${randomUUID()}`;
    const fake = createFakeActivities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fake.activities,
      dataConverter,
    });
    const withKey = new Client({ connection: env.connection, dataConverter });
    const workflowId = `codec-${randomUUID()}`;
    const spec = testSpec({ gates: allGates('auto') });
    const result = await worker.runUntil(async () => {
      const handle = await withKey.workflow.start<typeof etcdMigration>('etcdMigration', {
        taskQueue,
        workflowId,
        args: [{ spec }],
      });
      return handle.result();
    });
    expect(result.outcome).toBe('completed');

    // What the Temporal server stores, read without the key.
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const payloads: { metadata?: Record<string, Uint8Array> | null }[] = [];
    const patchMarkers: unknown[] = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value && typeof value === 'object') {
        if ('data' in value && 'metadata' in value && (value as { metadata?: unknown }).metadata) {
          payloads.push(value as { metadata: Record<string, Uint8Array> });
        }
        // Patch markers (`patched()`) are written by the SDK's core unencoded and hold only
        // the patch name: checked below.
        if ((value as { markerName?: string }).markerName === 'core_patch') {
          patchMarkers.push(value);
          return;
        }
        for (const [k, v] of Object.entries(value)) {
          // Search attributes are indexed by the server, never payload-encoded.
          if (k === 'searchAttributes') continue;
          if (v && typeof v === 'object' && !(v instanceof Uint8Array)) collect(v);
        }
      }
    };
    collect(history.events);
    expect(payloads.length).toBeGreaterThan(50);
    const encodings = new Set(payloads.map((p) => new TextDecoder().decode(p.metadata?.encoding)));
    expect([...encodings]).toEqual([ENCRYPTED_ENCODING]);
    const decodeAll = (v: unknown): string =>
      v instanceof Uint8Array
        ? new TextDecoder().decode(v)
        : Array.isArray(v)
          ? v.map(decodeAll).join(' ')
          : v && typeof v === 'object'
            ? Object.values(v).map(decodeAll).join(' ')
            : String(v);
    const markerText = patchMarkers.map(decodeAll).join('\n');
    expect(markerText).toContain(REGISTER_JOIN_UNDO_FIRST_PATCH);
    expect(markerText).not.toContain('etcd-main');
    expect(markerText).not.toContain('coredns');
    const text = historyText(history);
    // Names from the spec and the fake activities' results appear nowhere in the stored history.
    expect(text).not.toContain('"statefulSet":"etcd-main"');
    expect(text).not.toContain('coredns-hosts');
    expect(text).not.toContain('"outcome":"completed"');
    // Search attributes are not payload-encoded (Temporal indexes them): names and phase only.
    expect(text).toContain('EtcdMigrationPhase');

    // The codec server decodes a stored payload for the Web UI; only with its token.
    const stored = payloads[0] as { metadata: Record<string, Uint8Array>; data: Uint8Array };
    const server = await startCodecServer({
      codec: payloadCodecFromEnvironment(keyEnv)!,
      port: 0,
      uiOrigin: 'http://127.0.0.1:8233',
      token: 'ui-token',
    });
    try {
      const body = JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(stored.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(stored.data).toString('base64'),
          },
        ],
      });
      const refused = await fetch(`${server.url}/decode`, { method: 'POST', body });
      expect(refused.status).toBe(401);
      const decoded = await fetch(`${server.url}/decode`, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          Authorization: 'Bearer ui-token',
          Origin: 'http://127.0.0.1:8233',
          'X-Namespace': 'default',
        },
      });
      expect(decoded.status).toBe(200);
      expect(decoded.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      const out = (await decoded.json()) as {
        payloads: { metadata: Record<string, string>; data: string }[];
      };
      expect(Buffer.from(out.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
      // The first payload is the workflow input: the spec, readable again.
      expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toContain('"statefulSet":"etcd-main"');
    } finally {
      await server.close();
    }
  });
});
