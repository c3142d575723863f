/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked by structure: there is no Docker
 * engine here (and no `docker compose` plugin), so nothing is built or started. What is checked:
 * the services and their start order, exact image tags, healthchecks, the kubeconfig mounted
 * read-only where KUBECONFIG points, the worker's environment as worker/temporal-connection.ts
 * reads it, the worker as non-root, and that the image gets every file it runs.
 * (`docker compose config` of compose v2.40.3 was run by hand: see README, Deploying.)
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { metricsAddress } from '../../worker/metrics.js';
import { temporalSettings } from '../../worker/temporal-connection.js';
import { TASK_QUEUE } from '../../workflows/messages.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: ({ type: string; source: string; target: string; read_only?: boolean } | string)[];
  ports?: string[];
  user?: string;
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  command?: string[];
  entrypoint?: string[];
}

const composeText = fs.readFileSync('docker-compose.yml', 'utf8');
const compose = YAML.parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};
const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
/** Dockerfile instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};

describe('docker-compose.yml', () => {
  it('has Temporal on PostgreSQL, its one-shot setup jobs, the Web UI and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker'].sort(),
    );
    expect(service('temporal').environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    const schema = service('temporal-schema').command?.join('\n') ?? '';
    expect(schema).toContain('temporal-sql-tool --plugin postgres12 --ep postgresql');
    for (const [db, dir] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      expect(schema).toContain(`sql --db ${db} create`);
      expect(schema).toContain(
        `sql --db ${db} update-schema -d /etc/temporal/schema/postgresql/v12/${dir}/versioned`,
      );
    }
    expect(service('temporal-namespace').command?.join('\n')).toContain('namespace create -n default');
  });

  it('pins every image to an exact version tag; server and admin-tools match', () => {
    const exact = /^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/;
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(exact);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
    const tag = (name: string) => service(name).image!.split(':')[1];
    expect(tag('temporal-schema')).toBe(tag('temporal'));
    expect(tag('temporal-namespace')).toBe(tag('temporal'));
    expect(service('worker').build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(tag('worker')).toBe(
      (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version,
    );
  });

  it('starts in order: database healthy, schema done, server healthy, namespace done, then the worker', () => {
    expect(service('temporal-schema').depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(service('temporal').depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(service('worker').depends_on).toEqual({
      temporal: { condition: 'service_healthy' },
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgresql', 'temporal', 'worker']) {
      expect(service(name).healthcheck?.test.length, name).toBeGreaterThan(1);
    }
    expect(service('worker').healthcheck?.test).toEqual([
      'CMD',
      'node',
      '--import',
      'tsx',
      'deploy/worker/healthcheck.mjs',
    ]);
  });

  it('mounts the kubeconfig read-only where KUBECONFIG points, from a required variable', () => {
    const w = service('worker');
    const kubeconfig = w.environment?.KUBECONFIG;
    expect(kubeconfig).toBe('/etc/etcd-stretch/kubeconfig');
    const mount = w.volumes?.find((v) => typeof v === 'object' && v.target === kubeconfig);
    expect(mount).toMatchObject({ type: 'bind', read_only: true });
    expect(typeof mount === 'object' && mount.source).toMatch(/^\$\{ETCD_STRETCH_KUBECONFIG:\?/);
    // Nothing else of the host reaches the worker.
    expect(w.volumes).toHaveLength(1);
  });

  it("gives the worker the environment worker/temporal-connection.ts reads, pointing at compose's Temporal", () => {
    const env = service('worker').environment!;
    const sources = ['worker/temporal-connection.ts', 'worker/metrics.ts'].map((f) =>
      fs.readFileSync(f, 'utf8'),
    );
    const read = new Set(
      sources.flatMap((source) => [...source.matchAll(/env\.([A-Z_]+)/g)].map((m) => m[1])),
    );
    for (const key of Object.keys(env).filter((k) => /^(TEMPORAL|ETCD_STRETCH)_/.test(k))) {
      expect(read.has(key), `${key} is read by worker/temporal-connection.ts or worker/metrics.ts`).toBe(
        true,
      );
    }
    const settings = temporalSettings(env);
    expect(settings.tls).toBeUndefined();
    const [host, port] = settings.address.split(':');
    expect(Object.keys(services)).toContain(host);
    expect(service(host!).ports).toContain(`127.0.0.1:${port}:${port}`);
    expect(settings.taskQueue).toBe(TASK_QUEUE);
    expect(service('temporal-namespace').command?.join('\n')).toContain(`-n ${settings.namespace}`);
    expect(service('temporal-ui').environment?.TEMPORAL_ADDRESS).toBe(settings.address);
  });

  it("serves the worker's Prometheus metrics on all of the container's interfaces, published on loopback", () => {
    const address = metricsAddress(service('worker').environment);
    expect(address).toBe('0.0.0.0:9464');
    expect(service('worker').ports).toEqual([`127.0.0.1:9464:${address!.split(':')[1]}`]);
  });

  it('runs the worker unprivileged on a read-only root, and publishes ports on loopback only', () => {
    const w = service('worker');
    expect(w.user).toBe('1000:1000');
    expect(w.read_only).toBe(true);
    expect(w.tmpfs).toEqual(['/tmp']);
    expect(w.cap_drop).toEqual(['ALL']);
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('keeps the database password out of the file', () => {
    expect(composeText).not.toMatch(/PASSWORD: (?!\$\{)/);
    expect(service('postgresql').environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(service('temporal').environment?.POSTGRES_PWD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
  });

  it('mounts the dynamic config it names, read-only', () => {
    const t = service('temporal');
    const mount = t.volumes?.find(
      (v) => typeof v === 'object' && v.target === '/etc/temporal/config/dynamicconfig',
    );
    expect(mount).toMatchObject({ read_only: true, source: './deploy/compose/dynamicconfig' });
    const file = t.environment!.DYNAMIC_CONFIG_FILE_PATH!.replace('config/dynamicconfig/', '');
    const dynamic = YAML.parse(fs.readFileSync(`deploy/compose/dynamicconfig/${file}`, 'utf8')) as Record<
      string,
      { value: unknown }[]
    >;
    expect(dynamic['frontend.enableUpdateWorkflowExecution']).toEqual([{ value: true }]);
  });
});

describe('Dockerfile', () => {
  it('builds on the bookworm-slim tag of the Node that setup pins, which package.json engines allow', () => {
    const from = instructions.filter((l) => l.startsWith('FROM '));
    expect(from).toHaveLength(1);
    const versions = fs.readFileSync('scripts/versions.env', 'utf8');
    const pinned = /^NODE_VERSION=(\d+)\.\d+\.\d+$/m.exec(versions);
    expect(pinned, 'NODE_VERSION in scripts/versions.env').not.toBeNull();
    expect(from[0]).toBe(`FROM node:${pinned![0].slice('NODE_VERSION='.length)}-bookworm-slim`);
    const minMajor = /^>=(\d+)/.exec(pkg.engines.node);
    expect(minMajor, pkg.engines.node).not.toBeNull();
    expect(Number(pinned![1])).toBeGreaterThanOrEqual(Number(minMajor![1]));
  });

  it('installs production dependencies only, which include tsx (the worker runs TypeScript)', () => {
    expect(instructions).toContain('RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force');
    expect(pkg.dependencies.tsx).toBeDefined();
    expect(pkg.devDependencies.tsx).toBeUndefined();
    expect(instructions.at(-1)).toBe('CMD ["node", "--import", "tsx", "worker/main.ts"]');
  });

  it('runs as the unprivileged node user, with a healthcheck', () => {
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user).toEqual(['USER node']);
    const userAt = instructions.indexOf('USER node');
    expect(instructions.findIndex((l) => l.startsWith('CMD '))).toBeGreaterThan(userAt);
    expect(instructions.find((l) => l.startsWith('HEALTHCHECK '))).toContain('deploy/worker/healthcheck.mjs');
  });

  it('copies every file it runs, and .dockerignore lets each of them into the build context', () => {
    const copies = instructions
      .filter((l) => l.startsWith('COPY '))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .filter((a) => !a.startsWith('--'));
    expect(copies).toEqual(
      expect.arrayContaining([
        'core',
        'workflows',
        'activities',
        'worker',
        'client',
        'deploy/worker/healthcheck.mjs',
      ]),
    );
    const ignore = fs
      .readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    for (const c of copies) {
      expect(fs.existsSync(c), `${c} exists`).toBe(true);
      expect(ignore, `.dockerignore re-includes ${c}`).toContain(`!${c}`);
    }
    // What the image runs exists in what it copies.
    for (const f of [
      'worker/main.ts',
      'workflows/index.ts',
      'client/cli.ts',
      'deploy/worker/healthcheck.mjs',
    ]) {
      expect(fs.existsSync(f)).toBe(true);
      expect(copies.some((c) => f === c || f.startsWith(`${c}/`))).toBe(true);
    }
  });
});
