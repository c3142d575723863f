import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseMigrationSpecText, readMigrationSpecFile } from '../../client/spec-file.js';
import { parseCidr } from '../../core/spec/cidr.js';
import { formatDuration, parseDuration } from '../../core/spec/duration.js';
import { MIGRATION_SPEC_SCHEMA_PATH, migrationSpecJsonSchema } from '../../core/spec/json-schema.js';
import { formatPath, formatSpecErrors, parseMigrationSpec } from '../../core/spec/validate.js';
import { baseSpecInput, specFrom } from './fixtures/migration-spec.js';

type Input = ReturnType<typeof baseSpecInput>;
type Mutation = (spec: Input) => void;

function errorsOf(mutate: Mutation) {
  const input = baseSpecInput();
  mutate(input);
  const result = parseMigrationSpec(input);
  if (result.ok) throw new Error('expected the spec to be refused');
  return result.errors;
}

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----';

describe('migration spec: a good spec', () => {
  it('fills in every default', () => {
    const spec = specFrom(baseSpecInput());
    expect(spec.target.service).toBe('etcd-main');
    expect(spec.target.replicas).toBeUndefined(); // the planner uses the number of source members
    expect(spec.gates).toEqual({
      shrink: 'auto',
      expose: 'auto',
      dns: 'auto',
      join: 'auto',
      leader: 'auto',
      'switch-clients': 'manual',
      finalize: 'auto',
      cleanup: 'manual',
    });
    expect(spec.dns.sourceCluster).toEqual({
      strategy: 'coredns-hosts',
      namespace: 'kube-system',
      configMap: 'coredns',
      key: 'Corefile',
    });
    expect(spec.dns.targetCluster).toEqual({ strategy: 'host-aliases' });
    expect(spec.soak).toBe('10m');
    expect(spec.shrink).toEqual({ enabled: true, keepRevisions: 1000, minReclaimableBytes: 1048576 });
    expect(spec.deadlines).toEqual({
      step: '10m',
      catchUp: '30m',
      loadBalancers: '15m',
      dns: '5m',
      workerPickup: '5m',
    });
    expect(spec.cleanup).toEqual({
      deletePVCs: false,
      removeSourceClusterDns: false,
      deleteTargetMemberServices: false,
    });
    expect(spec.source.loadBalancer).toEqual({
      annotations: {},
      sourceRanges: ['198.18.2.0/24'],
      allowAnyone: false,
    });
    expect(spec.tls).toEqual({ peerSkipClientSanVerification: false });
    expect(spec.auth).toBeUndefined();
  });

  it('round-trips: the parsed spec is plain JSON and parses to itself', () => {
    const spec = specFrom(baseSpecInput());
    const json = JSON.parse(JSON.stringify(spec)) as unknown;
    expect(json).toEqual(spec);
    expect(specFrom(json)).toEqual(spec);
  });

  it('accepts the full feature set: overrides, TLS and auth references, patch DNS, IPv6 ranges', () => {
    const input = baseSpecInput();
    Object.assign(input.target, {
      service: 'etcd-main-peers',
      replicas: 5,
      image: 'quay.io/coreos/etcd:v3.5.17',
      resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
      storage: { className: 'fast-ssd', size: '10Gi' },
      labels: { 'app.kubernetes.io/name': 'etcd', tier: '' },
      annotations: { 'example.com/owner': 'team-db' },
    });
    input.target.loadBalancer = {
      annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' },
      sourceRanges: ['198.18.1.0/24', 'fd00:10::/64'],
    };
    Object.assign(input, {
      dns: {
        sourceCluster: {
          strategy: 'patch',
          object: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: 'node-local-dns' },
          ops: [{ op: 'add', path: '/data/hosts/-', value: '{{ip}} {{name}}' }],
          cleanupOps: [{ op: 'remove', path: '/data/hosts/{{name}}' }],
        },
      },
      tls: {
        peer: { secret: { name: 'etcd-main-peer-tls' } },
        client: { issueFrom: { caSecret: 'etcd-ca' } },
        operator: { name: 'etcd-migration-client-tls' },
      },
      auth: { secret: { name: 'etcd-root' } },
      gates: { shrink: 'manual', 'switch-clients': 'auto' },
      soak: '1h30m',
      cleanup: { deletePVCs: true },
    });
    const spec = specFrom(input);
    expect(spec.target.service).toBe('etcd-main-peers');
    expect(spec.tls.peer?.secret).toEqual({
      name: 'etcd-main-peer-tls',
      certKey: 'tls.crt',
      keyKey: 'tls.key',
      caKey: 'ca.crt',
    });
    expect(spec.tls.client?.issueFrom?.validity).toBe('8760h');
    expect(spec.tls.operator).toMatchObject({ cluster: 'source', name: 'etcd-migration-client-tls' });
    expect(spec.auth?.secret).toEqual({
      cluster: 'source',
      name: 'etcd-root',
      usernameKey: 'username',
      passwordKey: 'password',
    });
    expect(spec.gates.shrink).toBe('manual');
    expect(spec.gates['switch-clients']).toBe('auto');
    expect(spec.gates.cleanup).toBe('manual');
    expect(spec.dns.targetCluster).toEqual({ strategy: 'host-aliases' });
  });

  it('accepts 0.0.0.0/0 only with the explicit allowAnyone opt-in', () => {
    const input = baseSpecInput();
    input.source.loadBalancer = { sourceRanges: ['0.0.0.0/0'], allowAnyone: true };
    input.target.loadBalancer = { allowAnyone: true };
    const spec = specFrom(input);
    expect(spec.source.loadBalancer.allowAnyone).toBe(true);
    expect(spec.target.loadBalancer.sourceRanges).toBeUndefined();
  });
});

describe('migration spec: every bad spec names the field', () => {
  const cases: [string, Mutation, string, RegExp][] = [
    ['missing context', (s) => delete s.source.context, 'source.context', /is required/],
    ['wrong version', (s) => (s.version = 2), 'version', /must be 1, got number 2/],
    ['wrong kind', (s) => (s.kind = 'Migration'), 'kind', /must be "EtcdMigration"/],
    ['wrong type', (s) => (s.target.replicas = 'three'), 'target.replicas', /expected a number, got "three"/],
    [
      'same StatefulSet',
      (s) => (s.target.statefulSet = 'etcd'),
      'target.statefulSet',
      /must differ from source.statefulSet/,
    ],
    ['same Service', (s) => (s.target.service = 'etcd'), 'target.service', /must differ from source.service/],
    [
      'bad CIDR',
      (s) => (s.target.loadBalancer.sourceRanges = ['198.18.1.0/24', '10.0.0.0/33']),
      'target.loadBalancer.sourceRanges[1]',
      /^"10\.0\.0\.0\/33" is not a valid CIDR/,
    ],
    [
      'open to anyone without opt-in',
      (s) => (s.source.loadBalancer.sourceRanges = ['0.0.0.0/0']),
      'source.loadBalancer.sourceRanges[0]',
      /admits anyone.*allowAnyone: true/,
    ],
    [
      'IPv6 open to anyone without opt-in',
      (s) => (s.target.loadBalancer.sourceRanges = ['198.18.1.0/24', '::/0']),
      'target.loadBalancer.sourceRanges[1]',
      /"::\/0" admits anyone/,
    ],
    [
      'no source ranges',
      (s) => delete s.source.loadBalancer.sourceRanges,
      'source.loadBalancer.sourceRanges',
      /is required.*allowAnyone/,
    ],
    [
      'bad annotation key',
      (s) => (s.target.loadBalancer.annotations = { 'cloud.example.com/internal': 'true', 'bad key': 'x' }),
      'target.loadBalancer.annotations["bad key"]',
      /not a valid annotation key/,
    ],
    [
      'bad label value',
      (s) => (s.target.labels = { tier: 'not ok' }),
      'target.labels.tier',
      /not a valid label value/,
    ],
    [
      'bad namespace',
      (s) => (s.source.namespace = 'Default'),
      'source.namespace',
      /"Default" is not a valid DNS-1123 label/,
    ],
    ['bad Service name', (s) => (s.source.service = '1etcd'), 'source.service', /not a valid Service name/],
    [
      'StatefulSet name too long',
      (s) => (s.target.statefulSet = 'e'.repeat(53)),
      'target.statefulSet',
      /too long for a StatefulSet name/,
    ],
    ['bad duration', (s) => (s.soak = '10 minutes'), 'soak', /"10 minutes" is not a duration/],
    [
      'zero deadline',
      (s) => (s.deadlines = { catchUp: '0s' }),
      'deadlines.catchUp',
      /must be longer than zero/,
    ],
    [
      'too many replicas',
      (s) => (s.target.replicas = 8),
      'target.replicas',
      /must be at most 7, got number 8/,
    ],
    ['zero replicas', (s) => (s.target.replicas = 0), 'target.replicas', /must be at least 1/],
    ['fractional replicas', (s) => (s.target.replicas = 2.5), 'target.replicas', /expected an integer/],
    [
      'bad approval',
      (s) => (s.gates = { 'switch-clients': 'yes' }),
      'gates.switch-clients',
      /must be "manual" or "auto", got "yes"/,
    ],
    ['unknown gate', (s) => (s.gates = { swtich: 'auto' }), 'gates.swtich', /unknown field/],
    ['unknown top-level field', (s) => (s.targte = {}), 'targte', /unknown field/],
    [
      'host-aliases in the source cluster',
      (s) => (s.dns = { sourceCluster: { strategy: 'host-aliases' } }),
      'dns.sourceCluster.strategy',
      /restarts the old members/,
    ],
    [
      'unknown DNS strategy',
      (s) => (s.dns = { targetCluster: { strategy: 'etc-hosts' } }),
      'dns.targetCluster.strategy',
      /must be one of "coredns-hosts", "host-aliases", "patch", got "etc-hosts"/,
    ],
    [
      'patch template without {{ip}}',
      (s) =>
        (s.dns = {
          targetCluster: {
            strategy: 'patch',
            object: { apiVersion: 'v1', kind: 'ConfigMap', name: 'hosts' },
            ops: [{ op: 'add', path: '/data/{{name}}', value: '10.0.0.1' }],
          },
        }),
      'dns.targetCluster.ops',
      /must use \{\{ip\}\}/,
    ],
    [
      'unknown placeholder',
      (s) =>
        (s.dns = {
          targetCluster: {
            strategy: 'patch',
            object: { apiVersion: 'v1', kind: 'ConfigMap', name: 'hosts' },
            ops: [{ op: 'add', path: '/data/{{name}}', value: '{{ip}} {{host}}' }],
          },
        }),
      'dns.targetCluster.ops[0].value',
      /unknown placeholder \{\{host\}\}/,
    ],
    [
      'bad quantity',
      (s) => (s.target.resources = { limits: { memory: '1gi' } }),
      'target.resources.limits.memory',
      /"1gi" is not a valid Kubernetes quantity/,
    ],
    [
      'bad storage size',
      (s) => (s.target.storage = { size: '10 GB' }),
      'target.storage.size',
      /not a valid Kubernetes quantity/,
    ],
    [
      'TLS with neither source',
      (s) => (s.tls = { peer: {} }),
      'tls.peer',
      /exactly one of "secret" or "issueFrom" \(got neither\)/,
    ],
    [
      'TLS with both sources',
      (s) => (s.tls = { client: { secret: { name: 'a' }, issueFrom: { caSecret: 'b' } } }),
      'tls.client',
      /got both/,
    ],
    [
      'bad Secret name',
      (s) => (s.tls = { peer: { secret: { name: 'Bad_Name' } } }),
      'tls.peer.secret.name',
      /not a valid DNS-1123 subdomain/,
    ],
    [
      'a password in the spec',
      (s) => (s.auth = { secret: { name: 'etcd-root', password: 'hunter2' } }),
      'auth.secret.password',
      /unknown field/,
    ],
    [
      'key material in the spec',
      (s) => (s.target.annotations = { note: PEM }),
      'target.annotations.note',
      /looks like certificate or key material/,
    ],
    [
      'negative keepRevisions',
      (s) => (s.shrink = { keepRevisions: -1 }),
      'shrink.keepRevisions',
      /must be at least 0/,
    ],
    [
      'fractional minReclaimableBytes',
      (s) => (s.shrink = { minReclaimableBytes: 1.5 }),
      'shrink.minReclaimableBytes',
      /integer/,
    ],
    [
      'section of the wrong type',
      (s) => (s.source = 'etcd' as unknown as Input['source']),
      'source',
      /expected an object/,
    ],
  ];

  it.each(cases)('%s', (_name, mutate, path, message) => {
    const errors = errorsOf(mutate);
    expect(errors.map((e) => e.path)).toEqual([path]);
    expect(errors[0]?.message).toMatch(message);
  });

  it('has at least 15 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it('reports every independent problem at once', () => {
    const errors = errorsOf((s) => {
      s.source.namespace = 'Default';
      s.target.loadBalancer.sourceRanges = ['10.0.0.0/33'];
      s.soak = 'soon';
    });
    expect(errors.map((e) => e.path).sort()).toEqual([
      'soak',
      'source.namespace',
      'target.loadBalancer.sourceRanges[0]',
    ]);
  });

  it('formats errors one per line, naming the field', () => {
    const errors = errorsOf((s) => (s.target.loadBalancer.sourceRanges = ['198.18.1.0/24', '10.0.0.0/33']));
    expect(formatSpecErrors(errors, 'spec.yaml')).toBe(
      [
        'spec.yaml is invalid (1 error):',
        '  target.loadBalancer.sourceRanges[1]: "10.0.0.0/33" is not a valid CIDR (e.g. 10.0.0.0/16 or fd00::/64)',
      ].join('\n'),
    );
  });

  it('refuses an empty document clearly', () => {
    const result = parseMigrationSpec(null);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(formatSpecErrors(result.errors)).toMatch(/\(document\): the spec is empty/);
  });
});

describe('spec helpers', () => {
  it('formats paths', () => {
    expect(formatPath([])).toBe('');
    expect(formatPath(['target', 'loadBalancer', 'sourceRanges', 1])).toBe(
      'target.loadBalancer.sourceRanges[1]',
    );
    expect(formatPath(['gates', 'switch-clients'])).toBe('gates.switch-clients');
    expect(formatPath(['a', 'example.com/x'])).toBe('a["example.com/x"]');
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5d')).toBe(129_600_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0s')).toBe(0);
    for (const bad of ['', '10', 'm', '10 m', '-5s', '1y', '10m ', 'ms'])
      expect(parseDuration(bad)).toBeUndefined();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
  });

  it('parses CIDRs', () => {
    for (const good of [
      '10.0.0.0/8',
      '198.18.1.0/24',
      '0.0.0.0/0',
      '1.2.3.4/32',
      '::/0',
      'fd00::/8',
      '2001:db8::1/128',
      '::ffff:10.0.0.0/104',
      '1:2:3:4:5:6:7:8/64',
    ]) {
      expect(parseCidr(good), good).toBeDefined();
    }
    for (const bad of [
      '10.0.0.0',
      '10.0.0.0/33',
      '256.0.0.0/8',
      '10.0.0/8',
      '010.0.0.0/8',
      '10.0.0.0/-1',
      'fd00:::/8',
      '1:2:3:4:5:6:7:8:9/64',
      '::/129',
      'x/1',
      '10.0.0.0/08',
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });
});

describe('spec files', () => {
  it('the example spec validates', async () => {
    const result = await readMigrationSpecFile(
      new URL('../../examples/migration-spec.yaml', import.meta.url).pathname,
    );
    if (!result.ok) throw new Error(formatSpecErrors(result.errors));
    expect(result.spec.source).toMatchObject({ context: 'source', statefulSet: 'etcd', service: 'etcd' });
    expect(result.spec.target).toMatchObject({
      context: 'target',
      statefulSet: 'etcd-main',
      service: 'etcd-main',
    });
  });

  it('reads JSON as well as YAML, and reports YAML errors with a position', () => {
    const json = parseMigrationSpecText(JSON.stringify(baseSpecInput()));
    expect(json.ok).toBe(true);
    const duplicate = parseMigrationSpecText('version: 1\nversion: 1\n');
    expect(duplicate.ok).toBe(false);
    if (!duplicate.ok)
      expect(duplicate.errors[0]?.message).toMatch(/^line 2, column 1: not valid YAML\/JSON/);
  });

  it('reports a missing file', async () => {
    const result = await readMigrationSpecFile('/nonexistent/spec.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.message).toMatch(/cannot read \/nonexistent\/spec.yaml/);
  });

  it(`the committed ${MIGRATION_SPEC_SCHEMA_PATH} is current (regenerate: npx tsx scripts/export-spec-schema.ts)`, async () => {
    const committed = JSON.parse(
      await readFile(new URL(`../../${MIGRATION_SPEC_SCHEMA_PATH}`, import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(migrationSpecJsonSchema());
  });
});
