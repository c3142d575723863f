/**
 * A throwaway PKI for tests, made with openssl (independent of the code under test): CAs and
 * certificates signed by them, as PEM strings (files in a private temp directory while openssl
 * runs, removed by `dispose`).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export class TestPki {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-pki-'));
  private serial = 1;

  async ca(name: string): Promise<KeyPair> {
    const key = this.file(`${name}.key`);
    const cert = this.file(`${name}.crt`);
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await run('openssl', [
      'req',
      '-x509',
      '-key',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return this.read(key, cert);
  }

  /** A certificate for server and client use; `names` go into subjectAltName (IPs by form). */
  async issue(ca: KeyPair, commonName: string, names: string[] = []): Promise<KeyPair> {
    const id = `leaf-${this.serial++}`;
    const caKey = this.file(`${id}-ca.key`);
    const caCert = this.file(`${id}-ca.crt`);
    fs.writeFileSync(caKey, ca.keyPem, { mode: 0o600 });
    fs.writeFileSync(caCert, ca.certPem);
    const key = this.file(`${id}.key`);
    const csr = this.file(`${id}.csr`);
    const cert = this.file(`${id}.crt`);
    const ext = this.file(`${id}.ext`);
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    fs.writeFileSync(
      ext,
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(san ? [`subjectAltName=${san}`] : []),
      ].join('\n'),
    );
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await run('openssl', ['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${commonName}`]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ]);
    return this.read(key, cert);
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private read(key: string, cert: string): KeyPair {
    return { certPem: fs.readFileSync(cert, 'utf8'), keyPem: fs.readFileSync(key, 'utf8') };
  }
}
