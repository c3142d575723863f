/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked by structure: there is no Docker
 * engine here (and no `docker compose` plugin), so nothing is built or started. What is checked:
 * the services and their start order, exact image tags, healthchecks, the kubeconfig and the
 * specs mounted read-only where the worker and the usage line look, the worker's environment as
 * the worker reads it, the worker as non-root, the Web UI's version as the docs name it, the
 * codec server, and that the image builds what it runs (compiled JavaScript, a prebuilt bundle).
 * The same topology without containers: test/faults/compose-topology.test.ts.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { healthAddress } from '../../worker/health-server.js';
import { metricsAddress } from '../../worker/metrics.js';
import { payloadCodecFromEnvironment } from '../../worker/payload-codec.js';
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
  profiles?: string[];
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
      [
        'postgresql',
        'temporal',
        'temporal-namespace',
        'temporal-schema',
        'temporal-ui',
        'worker',
        'codec-server',
      ].sort(),
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
    // Liveness, which asks nothing of Temporal (worker/health-server.ts).
    expect(service('worker').healthcheck?.test).toEqual([
      'CMD',
      'node',
      'dist/worker/health-probe.js',
      'livez',
    ]);
    expect(healthAddress(service('worker').environment)?.host).toBe('127.0.0.1');
  });

  it('mounts the kubeconfig read-only where KUBECONFIG points, from a required variable', () => {
    const w = service('worker');
    const kubeconfig = w.environment?.KUBECONFIG;
    expect(kubeconfig).toBe('/etc/etcd-stretch/kubeconfig');
    const mount = w.volumes?.find((v) => typeof v === 'object' && v.target === kubeconfig);
    expect(mount).toMatchObject({ type: 'bind', read_only: true });
    expect(typeof mount === 'object' && mount.source).toMatch(/^\$\{ETCD_STRETCH_KUBECONFIG:\?/);
    // Nothing else of the host reaches the worker but the specs and the optional payload key.
    expect(w.volumes?.map((v) => typeof v === 'object' && v.target)).toEqual([
      kubeconfig,
      '/specs',
      '/etc/etcd-stretch/payload-key',
    ]);
    for (const v of w.volumes ?? []) expect(typeof v === 'object' && v.read_only).toBe(true);
  });

  it('mounts ./specs at /specs, where its usage line starts a migration', () => {
    const mount = service('worker').volumes?.find((v) => typeof v === 'object' && v.target === '/specs');
    expect(mount).toMatchObject({ type: 'bind', source: './specs', read_only: true });
    expect(fs.existsSync('specs/README.md')).toBe(true);
    const usage = /docker compose run --rm worker (.+ start (\/specs\/\S+))$/m.exec(composeText);
    expect(usage, 'usage line').not.toBeNull();
    expect(usage![1]).toBe('node dist/client/cli.js start /specs/migration.yaml');
  });

  it('shows the Web UI version the docs name, with the codec server of payload encryption', () => {
    const documented = /`temporalio\/ui` (\d+\.\d+)/.exec(fs.readFileSync('docs/operator-guide.md', 'utf8'));
    expect(documented, 'docs/operator-guide.md names the UI version').not.toBeNull();
    expect(service('temporal-ui').image).toMatch(
      new RegExp(`^temporalio/ui:${documented![1]!.replace('.', '\\.')}\\.\\d+$`),
    );
    const codec = service('codec-server');
    expect(codec.profiles).toEqual(['encryption']);
    expect(codec.image).toBe(service('worker').image);
    expect(codec.command?.slice(0, 3)).toEqual(['node', 'dist/client/cli.js', 'codec-server']);
    const arg = (name: string) => codec.command![codec.command!.indexOf(name) + 1];
    expect(codec.ports).toEqual([`127.0.0.1:${arg('--port')}:${arg('--port')}`]);
    expect(arg('--ui-origin')).toBe(service('temporal-ui').environment?.TEMPORAL_CORS_ORIGINS);
    expect(service('temporal-ui').environment?.TEMPORAL_CODEC_ENDPOINT).toBe(
      '${ETCD_STRETCH_CODEC_ENDPOINT:-}',
    );
    // Without a key file the worker gets an empty variable: plain payloads.
    expect(service('worker').environment?.ETCD_STRETCH_PAYLOAD_KEY_FILE).toBe(
      '${ETCD_STRETCH_PAYLOAD_KEY_FILE:+/etc/etcd-stretch/payload-key}',
    );
    expect(payloadCodecFromEnvironment({ ETCD_STRETCH_PAYLOAD_KEY_FILE: '' })).toBeUndefined();
  });

  it("gives the worker the environment worker/temporal-connection.ts reads, pointing at compose's Temporal", () => {
    const env = service('worker').environment!;
    const sources = [
      'worker/temporal-connection.ts',
      'worker/metrics.ts',
      'worker/health-server.ts',
      'worker/main.ts',
      'worker/payload-codec.ts',
    ].map((f) => fs.readFileSync(f, 'utf8'));
    const read = new Set(
      sources.flatMap((source) => [...source.matchAll(/env\.([A-Z_]+)/g)].map((m) => m[1])),
    );
    for (const key of Object.keys(env).filter((k) => /^(TEMPORAL|ETCD_STRETCH)_/.test(k))) {
      expect(read.has(key), `${key} is read by the worker`).toBe(true);
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
  const stages = (() => {
    const out: { from: string; lines: string[] }[] = [];
    for (const l of instructions) {
      if (l.startsWith('FROM ')) out.push({ from: l, lines: [] });
      else out.at(-1)?.lines.push(l);
    }
    return out;
  })();
  const runtime = stages.at(-1)!;

  it('builds every stage on the bookworm-slim tag of the Node that setup pins, which package.json engines allow', () => {
    const versions = fs.readFileSync('scripts/versions.env', 'utf8');
    const pinned = /^NODE_VERSION=(\d+)\.\d+\.\d+$/m.exec(versions);
    expect(pinned, 'NODE_VERSION in scripts/versions.env').not.toBeNull();
    const image = `node:${pinned![0].slice('NODE_VERSION='.length)}-bookworm-slim`;
    expect(stages.map((s) => s.from)).toEqual([
      `FROM ${image} AS build`,
      `FROM ${image} AS dependencies`,
      `FROM ${image}`,
    ]);
    const minMajor = /^>=(\d+)/.exec(pkg.engines.node);
    expect(minMajor, pkg.engines.node).not.toBeNull();
    expect(Number(pinned![1])).toBeGreaterThanOrEqual(Number(minMajor![1]));
  });

  it('compiles and bundles in the build stage with the npm build script', () => {
    const build = stages[0]!.lines;
    expect(build).toContain('RUN npm ci --no-audit --no-fund');
    expect(build.at(-1)).toBe('RUN npm run build');
    const scripts = (
      JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.build).toContain('tsc -p tsconfig.build.json');
    expect(scripts.build).toContain('node dist/worker/build-workflow-bundle.js');
    const tsconfig = JSON.parse(fs.readFileSync('tsconfig.build.json', 'utf8')) as {
      compilerOptions: { outDir: string; noEmit: boolean };
      include: string[];
    };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: 'dist', noEmit: false });
    const copied = build
      .filter((l) => l.startsWith('COPY '))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .filter((a) => !a.startsWith('--'));
    for (const dir of tsconfig.include) expect(copied, `the build stage copies ${dir}`).toContain(dir);
  });

  it('runs the compiled worker with the prebuilt bundle and production dependencies, no tsx', () => {
    expect(stages[1]!.lines).toContain(
      'RUN npm ci --omit=dev --no-audit --no-fund && npm uninstall --no-save --no-audit --no-fund tsx && npm cache clean --force',
    );
    expect(runtime.lines.filter((l) => l.startsWith('COPY '))).toEqual([
      'COPY package.json ./',
      'COPY --from=dependencies /app/node_modules ./node_modules',
      'COPY --from=build /app/dist ./dist',
    ]);
    // worker/build-workflow-bundle.ts writes dist/workflow-bundle.js by default.
    expect(fs.readFileSync('worker/build-workflow-bundle.ts', 'utf8')).toContain(
      "path.join(here, '..', 'workflow-bundle.js')",
    );
    expect(runtime.lines).toContain('ENV ETCD_STRETCH_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js');
    expect(runtime.lines.at(-1)).toBe('CMD ["node", "dist/worker/main.js"]');
    for (const l of runtime.lines) expect(l).not.toMatch(/tsx|\.ts\b/);
  });

  it('runs as the unprivileged node user, with a liveness healthcheck', () => {
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user).toEqual(['USER node']);
    expect(runtime.lines).toContain('USER node');
    const userAt = instructions.indexOf('USER node');
    expect(instructions.findIndex((l) => l.startsWith('CMD '))).toBeGreaterThan(userAt);
    expect(instructions.find((l) => l.startsWith('HEALTHCHECK '))).toMatch(
      /CMD \["node", "dist\/worker\/health-probe\.js", "livez"\]$/,
    );
  });

  it('copies every source it compiles, and .dockerignore lets each of them into the build context', () => {
    const copies = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(copies).toEqual(
      expect.arrayContaining(['core', 'workflows', 'activities', 'worker', 'client', 'tsconfig.build.json']),
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
    // The sources of what the image runs are in what the build stage copies.
    for (const f of ['worker/main.ts', 'worker/health-probe.ts', 'workflows/index.ts', 'client/cli.ts']) {
      expect(fs.existsSync(f)).toBe(true);
      expect(copies.some((c) => f.startsWith(`${c}/`))).toBe(true);
    }
  });
});
