/**
 * The CLI's Temporal client: the connection resolved as the Temporal CLI resolves it
 * (worker/temporal-connection.ts: profile, TEMPORAL_* variables, then --address / --namespace /
 * --profile / --config-file), and the worker's payload codec if payloads are encrypted.
 */
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnvironment } from '../worker/payload-codec.js';
import {
  temporalSettings,
  type TemporalOverrides,
  type TemporalSettings,
} from '../worker/temporal-connection.js';

export interface ConnectedClient {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  close: () => Promise<void>;
}

export async function connectClient(overrides: TemporalOverrides = {}): Promise<ConnectedClient> {
  const settings = temporalSettings(process.env, overrides);
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: settings.address,
      tls: settings.tls,
      apiKey: settings.apiKey,
      metadata: settings.metadata,
    });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${settings.address} (from ${settings.origin.address}): ${(err as Error).message}`,
    );
  }
  const dataConverter = dataConverterFromEnvironment();
  return {
    client: new Client({
      connection,
      namespace: settings.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    }),
    connection,
    settings,
    close: () => connection.close(),
  };
}

/** Runs `fn` with a client and closes the connection after it. */
export async function withClient<T>(
  overrides: TemporalOverrides,
  fn: (connected: ConnectedClient) => Promise<T>,
): Promise<T> {
  const connected = await connectClient(overrides);
  try {
    return await fn(connected);
  } finally {
    await connected.close();
  }
}
