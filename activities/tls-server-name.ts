/**
 * Server-name checks of etcd members' certificates, by the rules etcd's own clients (etcdctl,
 * the members' peer connections: Go's crypto/x509 `VerifyHostname`) apply, shared by the
 * worker's etcd connections and the certificate issuer's check of a kept certificate.
 *
 * Node's `tls.checkServerIdentity` is stricter in one way that matters here: it refuses a
 * wildcard over fewer than three labels, so a member certificate for `*.etcd`, which etcd and
 * etcdctl accept for `etcd-0.etcd`, would be refused. Go's rules:
 *
 * - an IP address matches IP entries of the subjectAltName only;
 * - a name matches a DNS entry exactly (ASCII case-insensitive, a trailing dot of the name
 *   ignored), or through a wildcard that is the whole left-most label (`*.etcd`), standing for
 *   exactly one label: `*.etcd` matches `etcd-0.etcd`, neither `etcd` nor `a.etcd-0.etcd`;
 *   partial wildcards (`e*.etcd`) and a bare `*` match nothing but themselves, literally;
 * - the common name is never looked at (Go dropped that fallback in 1.15).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';

/** The subjectAltName of a certificate: DNS names and IP addresses as written. */
export interface SubjectAltNames {
  dns: string[];
  ips: string[];
}

const toLowerAscii = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Go's `validHostname`: labels of letters, digits, `-` (not first) and `_`; `*` as a pattern's first label. */
function validHostname(host: string, isPattern: boolean): boolean {
  const name = isPattern ? host : host.replace(/\.$/, '');
  if (name === '' || name === '*') return false;
  return name
    .split('.')
    .every(
      (label, i) => (isPattern && i === 0 && label === '*') || /^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(label),
    );
}

/** Does the DNS entry `pattern` of a certificate match `host` (a name, not an IP address)? */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const candidate = toLowerAscii(host);
  if (!validHostname(candidate, false) || !validHostname(pattern, true)) {
    return candidate !== '' && candidate !== '.' && toLowerAscii(pattern) === candidate;
  }
  const patternLabels = toLowerAscii(pattern).split('.');
  const hostLabels = candidate.replace(/\.$/, '').split('.');
  if (patternLabels.length !== hostLabels.length) return false;
  return patternLabels.every((label, i) => (i === 0 && label === '*') || label === hostLabels[i]);
}

/** The 16-byte form of an IP address (IPv4 as IPv4-mapped IPv6, as Go compares them), or undefined. */
function ipBytes(address: string): number[] | undefined {
  const text = address.replace(/^\[(.*)\]$/, '$1');
  const kind = isIP(text);
  if (kind === 4) return [...Array<number>(10).fill(0), 0xff, 0xff, ...text.split('.').map(Number)];
  if (kind !== 6) return undefined;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number);
        return [(a! << 8) | b!, (c! << 8) | d!];
      }
      return [parseInt(g, 16)];
    });
  };
  const front = groups(head);
  const back = groups(tail);
  const all =
    tail === undefined
      ? front
      : [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** Does the certificate with these subjectAltName entries serve `host` (a name or an IP address)? */
export function namesServe(names: SubjectAltNames, host: string): boolean {
  const ip = ipBytes(host);
  if (ip) return names.ips.some((entry) => ipBytes(entry)?.every((b, i) => b === ip[i]) ?? false);
  return names.dns.some((pattern) => dnsNameMatches(pattern, host));
}

/**
 * The DNS and IP entries of subjectAltName text as Node prints it (`DNS:a, IP Address:10.0.0.1`;
 * a value with characters that need it is a JSON string: `DNS:"a, b"`).
 */
export function parseSubjectAltName(text: string | undefined): SubjectAltNames {
  const names: SubjectAltNames = { dns: [], ips: [] };
  for (const m of (text ?? '').matchAll(/(?:^|, )([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2]!;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    if (m[1] === 'DNS') names.dns.push(value);
    else if (m[1] === 'IP Address') names.ips.push(value);
  }
  return names;
}

/** The subjectAltName of a certificate (PEM or DER). */
export function subjectAltNamesOf(cert: string | Buffer): SubjectAltNames {
  return parseSubjectAltName(new X509Certificate(cert).subjectAltName);
}

/** Does the certificate (PEM or DER) serve `host`, by etcd's rules? */
export function certificateServesName(cert: string | Buffer, host: string): boolean {
  return namesServe(subjectAltNamesOf(cert), host);
}

/**
 * A `checkServerIdentity` for Node TLS connections (and grpc-js's `verifyOptions`) with etcd's
 * rules: undefined when the certificate serves `host`, else the error (its message starts as
 * Node's own does, so that error classification treats both alike).
 */
export function checkServerName(host: string, cert: PeerCertificate): Error | undefined {
  const names = cert.raw ? subjectAltNamesOf(cert.raw) : parseSubjectAltName(cert.subjectaltname);
  if (namesServe(names, host)) return undefined;
  const listed = [...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((n) => `IP:${n}`)];
  const err = new Error(
    `Hostname/IP does not match certificate's altnames: the certificate does not name ${host} (it names ${listed.join(', ') || 'nothing in its subjectAltName'}; matched as etcd's clients do: exactly, or by a wildcard for the whole left-most label)`,
  ) as Error & { code: string; host: string };
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  err.host = host;
  return err;
}
