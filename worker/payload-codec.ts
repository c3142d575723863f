/**
 * Optional encryption of every Temporal payload (workflow inputs and results, activity inputs and
 * results, signals, queries, updates, failure details, memo): AES-256-GCM with a key only the
 * worker and the CLI hold, so that the Temporal server and its database store ciphertext.
 * etcd-stretch puts no secret values in payloads anyway (references only); the codec also hides
 * the cluster layout (names, addresses, member IDs) from whoever reads the Temporal database.
 *
 * Enabled by `ETCD_STRETCH_PAYLOAD_KEY` (32 bytes, base64) or `ETCD_STRETCH_PAYLOAD_KEY_FILE`
 * (a file holding that); `ETCD_STRETCH_PAYLOAD_KEY_ID` names the key (default `default`) and is
 * stored with every payload, so that a payload written with another key fails with a clear message.
 * Search attributes are not payload-encoded by Temporal: etcd-stretch's hold only
 * context/namespace/StatefulSet names and the phase.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { ValueError, type Payload, type PayloadCodec } from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const ENCODING_KEY = 'encoding';
const KEY_ID_KEY = 'encryption-key-id';
const CIPHER_KEY = 'encryption-cipher';
const CIPHER = 'AES256_GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const text = (value: string) => new TextEncoder().encode(value);
const str = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : '');

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly key: Buffer,
    private readonly keyId: string,
  ) {
    if (key.length !== 32) throw new Error(`the payload key must be 32 bytes (AES-256), got ${key.length}`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(
      payloads.map((payload) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', this.key, iv);
        cipher.setAAD(text(this.keyId));
        const plain = Buffer.from(
          JSON.stringify({
            metadata: Object.fromEntries(
              Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
          }),
        );
        const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            [ENCODING_KEY]: text(ENCRYPTED_ENCODING),
            [KEY_ID_KEY]: text(this.keyId),
            [CIPHER_KEY]: text(CIPHER),
          },
          data: sealed,
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(
      payloads.map((payload) => {
        if (str(payload.metadata?.[ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
        const keyId = str(payload.metadata?.[KEY_ID_KEY]);
        if (keyId !== this.keyId) {
          throw new ValueError(
            `payload encrypted with key "${keyId}", but this process holds key "${this.keyId}" (ETCD_STRETCH_PAYLOAD_KEY_ID)`,
          );
        }
        const sealed = Buffer.from(payload.data ?? new Uint8Array());
        if (sealed.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is too short');
        const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
        decipher.setAAD(text(keyId));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        let plain: Buffer;
        try {
          plain = Buffer.concat([
            decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
            decipher.final(),
          ]);
        } catch {
          throw new ValueError(`payload does not decrypt with key "${keyId}": wrong key or altered payload`);
        }
        const inner = JSON.parse(plain.toString('utf8')) as {
          metadata: Record<string, string>;
          data: string;
        };
        return {
          metadata: Object.fromEntries(
            Object.entries(inner.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
          ),
          data: new Uint8Array(Buffer.from(inner.data, 'base64')),
        };
      }),
    );
  }
}

/** The codec the environment asks for, or undefined (payloads stay plain JSON). */
export function payloadCodecFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): AesGcmPayloadCodec | undefined {
  let encoded = env.ETCD_STRETCH_PAYLOAD_KEY;
  const file = env.ETCD_STRETCH_PAYLOAD_KEY_FILE;
  if (encoded && file)
    throw new Error('set ETCD_STRETCH_PAYLOAD_KEY or ETCD_STRETCH_PAYLOAD_KEY_FILE, not both');
  if (file) {
    try {
      encoded = fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(`ETCD_STRETCH_PAYLOAD_KEY_FILE=${file}: ${(err as Error).message}`);
    }
  }
  if (!encoded) return undefined;
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== 32) {
    throw new Error(
      `${file ? 'ETCD_STRETCH_PAYLOAD_KEY_FILE' : 'ETCD_STRETCH_PAYLOAD_KEY'} must hold 32 bytes in base64 (openssl rand -base64 32), got ${key.length} bytes`,
    );
  }
  return new AesGcmPayloadCodec(key, env.ETCD_STRETCH_PAYLOAD_KEY_ID ?? 'default');
}

/** `dataConverter` option for Worker.create and new Client. */
export function dataConverterFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): { payloadCodecs: PayloadCodec[] } | undefined {
  const codec = payloadCodecFromEnvironment(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
