/**
 * Server-name checks by etcd's (Go crypto/x509) rules: a wildcard is the whole left-most label
 * and stands for exactly one label, so `*.etcd` serves `etcd-0.etcd`, which Node's own
 * tls.checkServerIdentity refuses; IP addresses match IP entries only; no common-name fallback.
 */
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateServesName,
  checkServerName,
  dnsNameMatches,
  namesServe,
  parseSubjectAltName,
} from '../../activities/tls-server-name.js';
import { classifyEtcdError } from '../../activities/etcd/errors.js';
import { TestPki, type KeyPair } from '../helpers/test-pki.js';

describe('DNS names, as etcd matches them', () => {
  it('a left-most wildcard matches exactly one label', () => {
    expect(dnsNameMatches('*.etcd', 'etcd-0.etcd')).toBe(true);
    expect(dnsNameMatches('*.etcd-main.ns.svc', 'etcd-main-2.etcd-main.ns.svc')).toBe(true);
    // Not two labels, not the bare domain, not another domain.
    expect(dnsNameMatches('*.etcd', 'a.etcd-0.etcd')).toBe(false);
    expect(dnsNameMatches('*.etcd', 'etcd')).toBe(false);
    expect(dnsNameMatches('*.etcd', 'etcd-0.etcd-main')).toBe(false);
    expect(dnsNameMatches('*.etcd', 'etcd-0.etcd.ns.svc')).toBe(false);
  });

  it('compares ASCII case-insensitively and ignores a trailing dot of the name', () => {
    expect(dnsNameMatches('*.ETCD', 'Etcd-0.etcd')).toBe(true);
    expect(dnsNameMatches('etcd-0.Etcd', 'ETCD-0.etcd')).toBe(true);
    expect(dnsNameMatches('*.etcd', 'etcd-0.etcd.')).toBe(true);
  });

  it('takes a wildcard only as a whole left-most label; anything else only literally', () => {
    expect(dnsNameMatches('e*.etcd', 'etcd-0.etcd')).toBe(false);
    expect(dnsNameMatches('etcd-0.*', 'etcd-0.etcd')).toBe(false);
    expect(dnsNameMatches('*.*.etcd', 'a.b.etcd')).toBe(false);
    expect(dnsNameMatches('*', 'etcd')).toBe(false);
    expect(dnsNameMatches('etcd-0.etcd', 'etcd-0.etcd')).toBe(true);
    expect(dnsNameMatches('etcd-1.etcd', 'etcd-0.etcd')).toBe(false);
  });
});

describe('a certificate serves a host', () => {
  const names = parseSubjectAltName(
    'DNS:*.etcd, DNS:localhost, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:7, DNS:10.0.0.9',
  );

  it('reads the DNS and IP entries Node prints, JSON-quoted values too', () => {
    expect(names).toEqual({
      dns: ['*.etcd', 'localhost', '10.0.0.9'],
      ips: ['127.0.0.1', 'FD00:0:0:0:0:0:0:7'],
    });
    // A quoted value is one entry: the name inside it is not an entry of its own.
    expect(parseSubjectAltName('DNS:"evil, DNS:etcd-0.etcd", URI:spiffe://x')).toEqual({
      dns: ['evil, DNS:etcd-0.etcd'],
      ips: [],
    });
  });

  it('matches an IP address against IP entries only, in any written form', () => {
    expect(namesServe(names, '127.0.0.1')).toBe(true);
    expect(namesServe(names, '::ffff:127.0.0.1')).toBe(true);
    expect(namesServe(names, 'fd00::7')).toBe(true);
    expect(namesServe(names, '[fd00::7]')).toBe(true);
    expect(namesServe(names, '127.0.0.2')).toBe(false);
    // A DNS entry that reads like an address is no IP entry.
    expect(namesServe(names, '10.0.0.9')).toBe(false);
  });

  it('matches a name against the DNS entries', () => {
    expect(namesServe(names, 'etcd-2.etcd')).toBe(true);
    expect(namesServe(names, 'localhost')).toBe(true);
    expect(namesServe(names, 'etcd-2.etcd-main')).toBe(false);
  });
});

describe('checkServerName on certificates made by openssl', () => {
  const pki = new TestPki();
  let wildcard: KeyPair;
  let commonNameOnly: KeyPair;
  beforeAll(async () => {
    const ca = await pki.ca('server-name-ca');
    wildcard = await pki.issue(ca, 'etcd', ['*.etcd', '127.0.0.1']);
    commonNameOnly = await pki.issue(ca, 'etcd-0.etcd');
  });
  afterAll(() => pki.dispose());

  const peer = (pair: KeyPair): PeerCertificate => {
    const x = new X509Certificate(pair.certPem);
    return { raw: x.raw, subjectaltname: x.subjectAltName } as PeerCertificate;
  };

  it('accepts *.etcd for etcd-0.etcd, which Node refuses', () => {
    expect(checkServerName('etcd-0.etcd', peer(wildcard))).toBeUndefined();
    expect(checkServerName('127.0.0.1', peer(wildcard))).toBeUndefined();
    expect(certificateServesName(wildcard.certPem, 'etcd-1.etcd')).toBe(true);
    // Control: Node's own check refuses the two-label wildcard.
    expect(checkServerIdentity('etcd-0.etcd', peer(wildcard))?.message).toMatch(/does not match/);
  });

  it("refuses other names with an error naming the host and the certificate's names", () => {
    const err = checkServerName('etcd-0.etcd-main', peer(wildcard)) as Error & { code?: string };
    expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(err.message).toMatch(/^Hostname\/IP does not match certificate's altnames/);
    expect(err.message).toContain('does not name etcd-0.etcd-main (it names DNS:*.etcd, IP:127.0.0.1;');
    expect(checkServerName('a.etcd-0.etcd', peer(wildcard))).toBeInstanceOf(Error);
  });

  it('does not fall back to the common name, as Go does not', () => {
    expect(checkServerName('etcd-0.etcd', peer(commonNameOnly))).toBeInstanceOf(Error);
  });

  it("turns a refusal into advice naming only what exists: the member's name in the certificate", () => {
    const err = classifyEtcdError(new Error(checkServerName('etcd-0.etcd-main', peer(wildcard))!.message), {
      operation: 'member list',
      target: 'etcd-0 https://10.0.0.1:2379',
    });
    expect(err.message).toMatch(
      /TLS handshake failed: the member's certificate does not name the member: its subjectAltName must hold <pod>\.<headless-service>/,
    );
    expect(err.message).not.toMatch(/serverName/);
  });
});
