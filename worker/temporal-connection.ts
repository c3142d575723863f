/**
 * How the worker and the CLI reach Temporal, resolved as the Temporal CLI and SDKs do it
 * (`@temporalio/envconfig`): a profile of the TOML config file (TEMPORAL_CONFIG_FILE, or
 * ~/.config/temporalio/temporal.toml; profile TEMPORAL_PROFILE or `default`), overridden by the
 * TEMPORAL_* variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_CLIENT_CERT_PATH, ...), overridden by the CLI's flags. Without any of them: the
 * local dev server. TEMPORAL_TLS_CERT / _KEY / _CA, read before the official names existed,
 * still count where the official ones are not set.
 */
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'etcd-stretch';

export interface TemporalSettings {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** gRPC headers (profile `grpc_meta`, TEMPORAL_GRPC_META_*). */
  metadata?: Record<string, string>;
  taskQueue: string;
  /** Where the address and namespace came from, for messages ("... at X (TEMPORAL_ADDRESS)"). */
  origin: { address: string; namespace: string };
}

/** What the CLI's flags set; each wins over the variables and the config file. */
export interface TemporalOverrides {
  address?: string;
  namespace?: string;
  profile?: string;
  configFile?: string;
}

/** The earlier variable names and the official ones they stand for. */
const LEGACY_TLS_VARIABLES = [
  ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
  ['TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
  ['TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
] as const;

function withLegacyNames(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [legacy, official] of LEGACY_TLS_VARIABLES)
    if (out[legacy] && out[official] === undefined) out[official] = out[legacy];
  return out;
}

/**
 * envconfig reads the TLS files as Uint8Array; the client's grpc-js insists on Buffers
 * ("rootCerts must be a Buffer").
 */
function asBuffers(tls: TLSConfig | boolean): TLSConfig | boolean {
  if (typeof tls === 'boolean') return tls;
  const buffer = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b));
  return {
    ...tls,
    serverRootCACertificate: buffer(tls.serverRootCACertificate),
    clientCertPair: tls.clientCertPair && {
      crt: buffer(tls.clientCertPair.crt)!,
      key: buffer(tls.clientCertPair.key)!,
    },
  };
}

function profileName(env: NodeJS.ProcessEnv, overrides: TemporalOverrides): string {
  return overrides.profile ?? env.TEMPORAL_PROFILE ?? 'default';
}

function originOf(
  flag: string | undefined,
  variable: string | undefined,
  fromProfile: boolean,
  names: { flag: string; variable: string; profile: string },
): string {
  if (flag) return names.flag;
  if (variable) return names.variable;
  return fromProfile ? names.profile : 'default';
}

export function temporalSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: TemporalOverrides = {},
): TemporalSettings {
  const overrideEnvVars = withLegacyNames(env);
  const configFile = overrides.configFile ?? env.TEMPORAL_CONFIG_FILE;
  let profile;
  try {
    profile = loadClientConfigProfile({
      profile: overrides.profile,
      configSource: overrides.configFile ? { path: overrides.configFile } : undefined,
      overrideEnvVars,
    });
  } catch (err) {
    const where = configFile ?? '~/.config/temporalio/temporal.toml';
    throw new Error(`Temporal config ${where}: ${(err as Error).message}`);
  }
  const tls = profile.tls;
  if (tls && !tls.disabled && !!tls.clientCert !== !!tls.clientKey)
    throw new Error(
      'a TLS client certificate and its key go together (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or client_cert_path and client_key_path in the profile): set both or neither',
    );
  let connect;
  try {
    connect = toClientOptions(profile);
  } catch (err) {
    throw new Error(`Temporal TLS files: ${(err as Error).message}`);
  }
  const options = connect.connectionOptions;
  const name = profileName(env, overrides);
  const fromProfile = `profile "${name}" of ${configFile ?? 'the Temporal config file'}`;
  return {
    address: overrides.address ?? options.address ?? DEFAULT_ADDRESS,
    namespace: overrides.namespace ?? connect.namespace ?? DEFAULT_NAMESPACE,
    taskQueue: env.ETCD_STRETCH_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.tls !== undefined && options.tls !== null ? { tls: asBuffers(options.tls) } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length ? { metadata: profile.grpcMeta } : {}),
    origin: {
      address: originOf(overrides.address, env.TEMPORAL_ADDRESS, options.address !== undefined, {
        flag: '--address',
        variable: 'TEMPORAL_ADDRESS',
        profile: fromProfile,
      }),
      namespace: originOf(overrides.namespace, env.TEMPORAL_NAMESPACE, connect.namespace !== undefined, {
        flag: '--namespace',
        variable: 'TEMPORAL_NAMESPACE',
        profile: fromProfile,
      }),
    },
  };
}
