/**
 * Issues X.509 certificates from a CA key pair (PEM), in memory: the keys never touch a disk
 * and never leave the worker except into the Kubernetes Secret they are written to.
 *
 * The CA key may be RSA or ECDSA (PKCS#8, PKCS#1 or SEC1 PEM); the new keys are ECDSA P-256.
 * Every certificate is good for both TLS server and client authentication: an etcd member
 * presents the same certificate when it accepts peer connections and when it opens them.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { certificateServesName } from '../tls-server-name.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const NEW_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export interface CertificateRequest {
  commonName: string;
  /** DNS names and IP addresses for the subjectAltName; IPs are recognised by form. */
  names: string[];
  validityMs: number;
  /** Issue time (default now); the certificate is valid from a minute before, for clock skew. */
  now?: Date;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notAfter: string;
}

export class CertificateAuthorityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateAuthorityError';
  }
}

interface LoadedCa {
  cert: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.Algorithm;
}

async function loadCa(caCertPem: string, caKeyPem: string): Promise<LoadedCa> {
  let cert: x509.X509Certificate;
  let keyObject;
  try {
    cert = new x509.X509Certificate(caCertPem);
    keyObject = createPrivateKey(caKeyPem);
  } catch (err) {
    throw new CertificateAuthorityError(
      `the CA certificate or key is not valid PEM (${err instanceof Error ? err.message.split('\n')[0] : 'unreadable'})`,
    );
  }
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  let algorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  let signingAlgorithm: webcrypto.Algorithm;
  if (keyObject.asymmetricKeyType === 'rsa') {
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = algorithm;
  } else if (keyObject.asymmetricKeyType === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!namedCurve)
      throw new CertificateAuthorityError(`the CA key uses the curve ${curve ?? '?'}; use P-256 or P-384`);
    algorithm = { name: 'ECDSA', namedCurve };
    signingAlgorithm = {
      name: 'ECDSA',
      hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384',
    } as webcrypto.Algorithm;
  } else {
    throw new CertificateAuthorityError(
      `the CA key is ${keyObject.asymmetricKeyType ?? 'of an unknown type'}; use an RSA or ECDSA key`,
    );
  }
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  const nodeCert = new X509Certificate(caCertPem);
  if (!nodeCert.ca)
    throw new CertificateAuthorityError('the CA certificate is not a CA (basicConstraints CA:FALSE)');
  if (!nodeCert.checkPrivateKey(keyObject))
    throw new CertificateAuthorityError('the CA key does not belong to the CA certificate');
  return { cert, signingKey: signingKey, signingAlgorithm };
}

function sanEntries(names: string[]): x509.JsonGeneralName[] {
  return names.map((n) => (isIP(n) ? { type: 'ip', value: n } : { type: 'dns', value: n }));
}

/** One certificate and a new private key, signed by the CA. */
export async function issueCertificate(
  ca: { certPem: string; keyPem: string },
  request: CertificateRequest,
): Promise<IssuedCertificate> {
  return (await issueCertificates(ca, [request]))[0]!;
}

/** Several certificates from one CA (the CA key is imported once). */
export async function issueCertificates(
  ca: { certPem: string; keyPem: string },
  requests: CertificateRequest[],
): Promise<IssuedCertificate[]> {
  const loaded = await loadCa(ca.certPem, ca.keyPem);
  const out: IssuedCertificate[] = [];
  for (const request of requests) {
    const now = request.now ?? new Date();
    const notBefore = new Date(now.getTime() - 60_000);
    const notAfter = new Date(Math.min(now.getTime() + request.validityMs, loaded.cert.notAfter.getTime()));
    const keys = await webcrypto.subtle.generateKey(NEW_KEY, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(16)
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
      subject: `CN=${request.commonName.replace(/[,+="\\<>;]/g, '_')}`,
      // The CA's subject as it is encoded (Go matches issuer and subject byte for byte).
      issuer: loaded.cert.subjectName,
      notBefore,
      notAfter,
      signingAlgorithm: loaded.signingAlgorithm,
      publicKey: keys.publicKey,
      signingKey: loaded.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension(sanEntries(request.names)),
        await x509.AuthorityKeyIdentifierExtension.create(loaded.cert),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    out.push({
      certPem: cert.toString('pem'),
      keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
      notAfter: notAfter.toISOString(),
    });
  }
  return out;
}

/**
 * Does `certPem` still serve: signed by this CA, valid for at least `minRemainingMs` more, its
 * subjectAltName covering every one of `names` (as etcd's clients check a name), and `keyPem` its
 * key? (Then it is kept as it is.)
 */
export function certificateServes(
  certPem: string,
  keyPem: string,
  caCertPem: string,
  names: string[],
  minRemainingMs: number,
  now = new Date(),
): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caCertPem);
    if (!cert.verify(ca.publicKey) || !cert.checkIssued(ca)) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < minRemainingMs) return false;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return false;
    return names.every((n) => certificateServesName(certPem, n));
  } catch {
    return false;
  }
}
