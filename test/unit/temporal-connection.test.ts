/**
 * The Temporal connection as the Temporal CLI resolves it (@temporalio/envconfig): a profile of
 * the TOML config file, then TEMPORAL_* variables, then the CLI's flags; the earlier TLS
 * variable names still count.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { temporalSettings } from '../../worker/temporal-connection.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-connection-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const cert = path.join(dir, 'client.crt');
const key = path.join(dir, 'client.key');
const ca = path.join(dir, 'ca.crt');
fs.writeFileSync(cert, 'CERT');
fs.writeFileSync(key, 'KEY');
fs.writeFileSync(ca, 'CA');

const configFile = path.join(dir, 'temporal.toml');
fs.writeFileSync(
  configFile,
  `[profile.default]
address = "default-host:7233"
namespace = "from-default"

[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "prod.abc12"
api_key = "secret-key"

[profile.mtls]
address = "mtls-host:7233"
[profile.mtls.tls]
client_cert_path = "${cert}"
client_key_path = "${key}"
server_ca_cert_path = "${ca}"
server_name = "temporal.internal"
`,
);

/** An environment with no config file of its own (HOME points at an empty directory). */
const bare = { HOME: path.join(dir, 'home') };

describe('temporalSettings', () => {
  it('without configuration: the local dev server', () => {
    const s = temporalSettings(bare);
    expect(s).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'etcd-stretch' });
    expect(s.tls).toBeUndefined();
    expect(s.origin).toEqual({ address: 'default', namespace: 'default' });
  });

  it('reads the default profile of the default file (~/.config/temporalio/temporal.toml)', () => {
    const home = path.join(dir, 'home-with-config');
    fs.mkdirSync(path.join(home, '.config', 'temporalio'), { recursive: true });
    fs.copyFileSync(configFile, path.join(home, '.config', 'temporalio', 'temporal.toml'));
    const s = temporalSettings({ HOME: home });
    expect(s.address).toBe('default-host:7233');
    expect(s.namespace).toBe('from-default');
    expect(s.origin.address).toMatch(/^profile "default"/);
  });

  it('TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE pick a profile; an API key turns TLS on', () => {
    const s = temporalSettings({ ...bare, TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod' });
    expect(s).toMatchObject({
      address: 'prod.tmprl.cloud:7233',
      namespace: 'prod.abc12',
      apiKey: 'secret-key',
    });
    expect(s.tls).toBe(true);
  });

  it('TEMPORAL_* variables win over the profile, flags over both', () => {
    const env = {
      ...bare,
      TEMPORAL_CONFIG_FILE: configFile,
      TEMPORAL_ADDRESS: 'env-host:7233',
      TEMPORAL_NAMESPACE: 'from-env',
    };
    expect(temporalSettings(env)).toMatchObject({ address: 'env-host:7233', namespace: 'from-env' });
    expect(temporalSettings(env).origin).toEqual({
      address: 'TEMPORAL_ADDRESS',
      namespace: 'TEMPORAL_NAMESPACE',
    });
    const flagged = temporalSettings(env, { address: 'flag-host:7233', namespace: 'from-flag' });
    expect(flagged).toMatchObject({ address: 'flag-host:7233', namespace: 'from-flag' });
    expect(flagged.origin).toEqual({ address: '--address', namespace: '--namespace' });
  });

  it('--profile and --config-file win over TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE', () => {
    const s = temporalSettings(
      { ...bare, TEMPORAL_CONFIG_FILE: path.join(dir, 'nowhere.toml'), TEMPORAL_PROFILE: 'nope' },
      { profile: 'mtls', configFile },
    );
    expect(s.address).toBe('mtls-host:7233');
    expect(s.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
  });

  it('an unknown profile is an error naming the file', () => {
    expect(() =>
      temporalSettings({ ...bare, TEMPORAL_CONFIG_FILE: configFile }, { profile: 'staging' }),
    ).toThrow(`Temporal config ${configFile}: Profile 'staging' not found in config data`);
  });

  it('the official TLS variables, and the earlier TEMPORAL_TLS_CERT / _KEY / _CA names', () => {
    const official = temporalSettings({
      ...bare,
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_NAME: 'srv',
    });
    const legacy = temporalSettings({
      ...bare,
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_CA: ca,
    });
    expect(official.tls).toMatchObject({
      serverNameOverride: 'srv',
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    expect(legacy.tls).toMatchObject({
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    expect(temporalSettings({ ...bare, TEMPORAL_TLS: 'true' }).tls).toEqual(
      expect.objectContaining({ clientCertPair: undefined }),
    );
  });

  it('a client certificate without its key is refused', () => {
    expect(() => temporalSettings({ ...bare, TEMPORAL_TLS_CERT: cert })).toThrow(/go together/);
    expect(() => temporalSettings({ ...bare, TEMPORAL_TLS_CLIENT_KEY_PATH: key })).toThrow(/go together/);
  });

  it('keeps ETCD_STRETCH_TASK_QUEUE', () => {
    expect(temporalSettings({ ...bare, ETCD_STRETCH_TASK_QUEUE: 'q' }).taskQueue).toBe('q');
  });
});
