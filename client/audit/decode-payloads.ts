/**
 * A history fetched from the server (or exported by `temporal workflow show`) holds payloads
 * as the worker wrote them: encrypted when the worker runs with a payload key. The audit
 * decodes them in place with the same codec before reading them.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { ENCRYPTED_ENCODING } from '../../worker/payload-codec.js';

const encodingOf = (p: Payload): string =>
  p.metadata?.encoding ? new TextDecoder().decode(p.metadata.encoding) : '';

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false;
  const m = (value as { metadata?: unknown }).metadata;
  return typeof m === 'object' && m !== null && (m as Record<string, unknown>).encoding instanceof Uint8Array;
}

/** Every payload object in the history, wherever it sits (inputs, results, failures, markers, search attributes). */
export function payloadsOf(history: History): Payload[] {
  const found: Payload[] = [];
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value) || value instanceof Uint8Array) return;
    seen.add(value);
    if (isPayload(value)) {
      found.push(value);
      return;
    }
    for (const v of Array.isArray(value) ? value : Object.values(value)) walk(v);
  };
  walk(history);
  return found;
}

/** Decodes the history's encrypted payloads in place; refuses clearly when there is no codec for them. */
export async function decodeHistoryPayloads(
  history: History,
  codec: PayloadCodec | undefined,
): Promise<number> {
  const encrypted = payloadsOf(history).filter((p) => encodingOf(p) === ENCRYPTED_ENCODING);
  if (encrypted.length === 0) return 0;
  if (!codec) {
    throw new Error(
      `this history holds ${encrypted.length} encrypted payloads: set ETCD_STRETCH_PAYLOAD_KEY or ETCD_STRETCH_PAYLOAD_KEY_FILE to the worker's key`,
    );
  }
  const decoded = await codec.decode(encrypted);
  encrypted.forEach((p, i) => {
    const d = decoded[i]!;
    p.metadata = d.metadata;
    p.data = d.data;
  });
  return encrypted.length;
}
