/**
 * The secured migration scenario: a source etcd with peer and client TLS, client-certificate
 * authentication and etcd auth (root user), certificates from a CA the test makes (naming each
 * member, or only by the wildcard `*.etcd`), its peer SAN-check setting written as a flag, in a
 * script or as a variable, at an etcd version of choice (tls-sources.ts); a live load
 * client over TLS with a password; the migration workflow (real activities, a real Temporal
 * server) to StatefulSet etcd-secure in cluster "target", whose certificates the migration issues
 * from a CA Secret. Every secret value the run used is returned, so that the caller can search
 * the workflow history for them.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Etcd3, type IOptions } from 'etcd3';
import YAML from 'yaml';
import { kubeconfigPath, REPO_ROOT } from '../../sandbox/config.js';
import { patchEtcd3Authentication, useEtcdServerNameRules } from '../../activities/etcd/connection.js';
import { approveUpdate, statusQuery, WORKFLOW_TYPE } from '../../workflows/messages.js';
import type { etcdMigration, MigrationResult } from '../../workflows/migration-workflow.js';
import type { MigrationStatus } from '../../workflows/status.js';
import { checkHistory, type CheckResult } from './history-checker.js';
import { apply, createNamespaceInBoth, podNetns, readyPods, waitFor, type ClusterClient } from './kube.js';
import { LoadClient, type LoadSummary } from './load-client.js';
import { TestPki, type KeyPair } from './test-pki.js';
import { tlsSourceObjects, type TlsSource } from './tls-sources.js';
import { inProcessWorkers } from './worker-hosts.js';
import { cleanUpScenario, scenarioSpec } from './acceptance.js';

const run = promisify(execFile);

export const SOURCE_RANGE = '198.18.1.0/24';
export const TARGET_RANGE = '198.18.2.0/24';

export interface TlsScenarioOptions {
  client: Client;
  connection: NativeConnection;
  keys?: number;
  opsPerSecond?: number;
  onProgress?: (line: string) => void;
  /** The source etcd: its version and where it writes the peer SAN-check setting (default: 3.5, env). */
  source?: TlsSource;
  /** The source members' certificates name them only by `*.etcd` (and localhost, 127.0.0.1). */
  wildcardCertificates?: boolean;
  /** Runs at the switch-clients gate, while old and new members and both sides' load balancers exist. */
  atSwitchGate?: (ctx: TlsScenarioContext) => Promise<void>;
}

/** What the test needs to talk to the clusters itself. */
export interface TlsScenarioContext {
  namespace: string;
  ca: KeyPair;
  otherCa: KeyPair;
  /** A client certificate of the cluster's CA (the load client's). */
  clientCert: KeyPair;
  /** A client certificate of another CA. */
  foreignCert: KeyPair;
  rootPassword: string;
  source: ClusterClient;
  target: ClusterClient;
}

export interface TlsScenarioReport extends LoadSummary {
  outcome: string;
  lostWrites: number;
  check: CheckResult;
  finalMembers: { name: string; cluster: string; learner: boolean }[];
  hashKvConsistent: boolean;
  temporalWorkflowId: string;
  namespace: string;
  status: MigrationStatus | undefined;
  failure?: string;
  durationMs: number;
  /** Every secret value the run used: key material, the password, the worker's kubeconfig keys. */
  secretValues: { what: string; value: string }[];
  context: TlsScenarioContext;
  /** Deletes both namespaces and the migration's source DNS entries. */
  cleanup(): Promise<void>;
}

function secret(name: string, namespace: string, data: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

function tlsPair(pair: KeyPair, ca: KeyPair): Record<string, string> {
  return { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem, 'ca.crt': ca.certPem };
}

export function tlsScenarioSpec(namespace: string): Record<string, unknown> {
  return scenarioSpec(namespace, {
    source: { loadBalancer: { sourceRanges: [TARGET_RANGE] } },
    target: { statefulSet: 'etcd-secure', loadBalancer: { sourceRanges: [SOURCE_RANGE] } },
    tls: {
      peer: { issueFrom: { caSecret: 'etcd-ca', validity: '720h' } },
      client: { issueFrom: { caSecret: 'etcd-ca', validity: '720h' } },
      operator: { cluster: 'source', name: 'etcd-stretch-operator' },
      peerSkipClientSanVerification: true,
    },
    auth: { secret: { cluster: 'source', name: 'etcd-root' } },
  });
}

/** A client of one member endpoint (pod IP), checking its certificate against `serverName` as etcd's clients do. */
export function memberClient(
  endpoint: string,
  serverName: string,
  ca: KeyPair,
  cert: KeyPair | undefined,
  auth?: { username: string; password: string },
): Etcd3 {
  const options = memberClientOptions(endpoint, serverName, ca, cert, auth);
  const client = new Etcd3(options);
  useEtcdServerNameRules(client, options.credentials!);
  if (auth) patchEtcd3Authentication(client);
  return client;
}

function memberClientOptions(
  endpoint: string,
  serverName: string,
  ca: KeyPair,
  cert: KeyPair | undefined,
  auth?: { username: string; password: string },
): IOptions {
  return {
    hosts: [endpoint],
    dialTimeout: 2000,
    credentials: {
      rootCertificate: Buffer.from(ca.certPem),
      ...(cert ? { certChain: Buffer.from(cert.certPem), privateKey: Buffer.from(cert.keyPem) } : {}),
    },
    grpcOptions: { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName },
    ...(auth ? { auth } : {}),
  };
}

/** One TLS connection attempt from inside a pod's network namespace; what openssl saw. */
export async function tlsConnectFromPod(
  netns: string,
  address: string,
  ca: KeyPair,
  cert: KeyPair,
  hostname: string,
): Promise<{ verified: boolean; output: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-probe-'));
  try {
    for (const [name, pem] of [
      ['ca.crt', ca.certPem],
      ['tls.crt', cert.certPem],
      ['tls.key', cert.keyPem],
    ] as const)
      fs.writeFileSync(path.join(dir, name), pem, { mode: 0o600 });
    const args = ['netns', 'exec', netns, 'openssl', 's_client', '-connect', address, '-brief'];
    args.push('-CAfile', path.join(dir, 'ca.crt'), '-cert', path.join(dir, 'tls.crt'));
    args.push('-key', path.join(dir, 'tls.key'), '-verify_return_error', '-verify_hostname', hostname);
    const result = await run('ip', args, { timeout: 15_000 }).then(
      (r) => r.stdout + r.stderr,
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    return { verified: /Verification: OK/.test(result), output: result };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function kubeconfigKeys(): { what: string; value: string }[] {
  const config = YAML.parse(fs.readFileSync(kubeconfigPath(), 'utf8')) as {
    users?: { name: string; user: Record<string, string> }[];
  };
  const out: { what: string; value: string }[] = [];
  for (const u of config.users ?? []) {
    const data = u.user['client-key-data'];
    if (data)
      out.push({ what: `kubeconfig ${u.name} client key`, value: Buffer.from(data, 'base64').toString() });
    if (u.user.token) out.push({ what: `kubeconfig ${u.name} token`, value: u.user.token });
  }
  return out;
}

export async function runTlsScenario(opts: TlsScenarioOptions): Promise<TlsScenarioReport> {
  const say = opts.onProgress ?? (() => undefined);
  const { source, target, ns } = await createNamespaceInBoth('tls');
  say(`namespace ${ns} in both clusters`);
  try {
    return await runIn(ns, source, target, opts);
  } catch (err) {
    await cleanUp(ns);
    throw err;
  }
}

async function runIn(
  ns: string,
  source: ClusterClient,
  target: ClusterClient,
  opts: TlsScenarioOptions,
): Promise<TlsScenarioReport> {
  const say = opts.onProgress ?? (() => undefined);

  const pki = new TestPki();
  const ca = await pki.ca('etcd-ca');
  const otherCa = await pki.ca('other-ca');
  const memberNames = [0, 1, 2].flatMap((i) => [
    `etcd-${i}`,
    `etcd-${i}.etcd`,
    `etcd-${i}.etcd.${ns}.svc`,
    `etcd-${i}.etcd.${ns}.svc.cluster.local`,
  ]);
  const certificateNames = opts.wildcardCertificates ? ['*.etcd'] : memberNames;
  const peer = await pki.issue(ca, 'etcd-peer', [...certificateNames, 'localhost', '127.0.0.1']);
  const server = await pki.issue(ca, 'etcd-server', [...certificateNames, 'localhost', '127.0.0.1']);
  const operator = await pki.issue(ca, 'etcd-stretch');
  const clientCert = await pki.issue(ca, 'load-client');
  const foreignCert = await pki.issue(otherCa, 'intruder');
  pki.dispose();
  const rootPassword = randomBytes(18).toString('base64url');
  const context: TlsScenarioContext = {
    namespace: ns,
    ca,
    otherCa,
    clientCert,
    foreignCert,
    rootPassword,
    source,
    target,
  };

  await apply(source, [
    secret('etcd-peer-tls', ns, tlsPair(peer, ca)),
    secret('etcd-client-tls', ns, tlsPair(server, ca)),
    secret('etcd-stretch-operator', ns, tlsPair(operator, ca)),
    secret('etcd-root', ns, { username: 'root', password: rootPassword }),
    ...tlsSourceObjects(opts.source ?? { style: 'env', version: '3.5' }, ns),
  ]);
  await apply(target, [secret('etcd-ca', ns, { 'tls.crt': ca.certPem, 'tls.key': ca.keyPem })]);

  const pods = await readyPods(source, ns, 'app=etcd', 3);
  const sourceEndpoints = pods.map((p) => `https://${p.status!.podIP}:2379`);
  const sourceNames = Object.fromEntries(
    pods.map((p) => [`https://${p.status!.podIP}:2379`, `${p.metadata!.name}.etcd`]),
  );
  const serverNames: Record<string, string> = { ...sourceNames };
  const root = { username: 'root', password: rootPassword };
  const sourceClient = (auth?: typeof root) =>
    memberClient(sourceEndpoints[0]!, sourceNames[sourceEndpoints[0]!]!, ca, clientCert, auth);
  const setup = sourceClient();
  try {
    await setup.user('root').create(rootPassword);
    await setup.user('root').addRole('root');
    await setup.auth.authEnable();
  } finally {
    setup.close();
  }
  const seed = sourceClient(root);
  try {
    for (let i = 0; i < (opts.keys ?? 300); i++) await seed.put(`data/${i}`).value(`seed-${i}`);
  } finally {
    seed.close();
  }
  say(`source etcd ready with TLS and auth: ${pods.map((p) => p.metadata!.name).join(', ')}`);

  const load = new LoadClient({
    endpoints: sourceEndpoints,
    opsPerSecond: opts.opsPerSecond ?? 100,
    tls: {
      ca: Buffer.from(ca.certPem),
      cert: Buffer.from(clientCert.certPem),
      key: Buffer.from(clientCert.keyPem),
      serverNames: sourceNames,
    },
    auth: root,
  });
  await load.warmUp();
  load.start();
  say('load client running over TLS with auth');

  const taskQueue = `tls-${randomUUID()}`;
  const workflowId = `etcd-migration-${ns}`;
  const started = Date.now();
  let handle: WorkflowHandle<typeof etcdMigration> | undefined;
  let result: MigrationResult | undefined;
  let failure: unknown;
  let finalStatus: MigrationStatus | undefined;
  await inProcessWorkers(opts.connection).run(taskQueue, workflowId, async () => {
    handle = await opts.client.workflow.start<typeof etcdMigration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [{ spec: tlsScenarioSpec(ns) }],
    });
    say(`workflow ${workflowId} started`);
    let lastPhase = '';
    const atGate = await waitFor(
      'the switch-clients gate',
      async () => {
        const s = await handle!.query(statusQuery);
        if (s.phase && s.phase !== lastPhase) {
          lastPhase = s.phase;
          say(`phase ${s.phase}`);
        }
        if (['failed', 'rolled-back', 'aborted'].includes(s.workflowState)) return s;
        return s.waitingFor?.kind === 'approval' && s.waitingFor.gate === 'switch-clients' ? s : undefined;
      },
      { timeoutMs: 10 * 60_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      failure = err;
      return undefined;
    });
    if (atGate && atGate.waitingFor?.kind !== 'approval') {
      failure = new Error(`workflow ${atGate.workflowState}: ${atGate.error}`);
      finalStatus = atGate;
      return;
    }
    if (!atGate) return;
    await opts.atSwitchGate?.(context);
    const voters = new Set(
      atGate.members.filter((m) => m.side === 'target' && !m.isLearner).map((m) => m.name),
    );
    const newPods = (await target.core.listNamespacedPod({ namespace: ns })).items.filter(
      (p) => voters.has(p.metadata!.name!) && p.status?.podIP,
    );
    const targetNames = Object.fromEntries(
      newPods.map((p) => [`https://${p.status!.podIP}:2379`, `${p.metadata!.name}.etcd-secure`]),
    );
    Object.assign(serverNames, targetNames);
    await load.warmUp(Object.keys(targetNames), targetNames);
    load.setEndpoints(Object.keys(targetNames), targetNames);
    say(`load client switched to ${Object.keys(targetNames).join(', ')}`);
    await handle.executeUpdate(approveUpdate, {
      args: [{ gate: 'switch-clients', by: 'tls-test', comment: 'load client switched' }],
    });
    try {
      result = await handle.result();
    } catch (err) {
      failure = err;
    }
    finalStatus = await handle.query(statusQuery).catch(() => undefined);
  });
  await load.stop();
  const durationMs = Date.now() - started;
  say(
    `workflow ended: ${result?.outcome ?? `failed (${failure instanceof Error ? failure.message : JSON.stringify(failure)})`}`,
  );

  const finalValues = new Map<string, string | undefined>();
  const [finalEndpoint] = load.currentEndpoints();
  const reader = memberClient(finalEndpoint!, serverNames[finalEndpoint!]!, ca, clientCert, root);
  try {
    for (const key of new Set(load.history.map((o) => o.key)))
      finalValues.set(key, (await reader.get(key).string()) ?? undefined);
    const seedCount = await reader.getAll().prefix('data/').count();
    if (seedCount !== (opts.keys ?? 300)) finalValues.set('data/*count', String(seedCount));
  } finally {
    reader.close();
  }
  load.close();
  const check = checkHistory(load.history, finalValues);
  const summary = load.summary();

  // The members' keys the worker issued are secrets too.
  const issuedKeys: { what: string; value: string }[] = [];
  for (const kind of ['peer', 'client']) {
    const s = await target.core
      .readNamespacedSecret({ name: `etcd-secure-${kind}-tls`, namespace: ns })
      .catch(() => undefined);
    for (const [key, value] of Object.entries(s?.data ?? {}))
      if (key.endsWith('.key'))
        issuedKeys.push({
          what: `issued ${kind} key ${key}`,
          value: Buffer.from(value, 'base64').toString(),
        });
  }
  const secretValues = [
    { what: 'CA key', value: ca.keyPem },
    { what: 'source peer key', value: peer.keyPem },
    { what: 'source server key', value: server.keyPem },
    { what: 'operator client key', value: operator.keyPem },
    { what: 'load client key', value: clientCert.keyPem },
    { what: 'root password', value: rootPassword },
    ...issuedKeys,
    ...kubeconfigKeys(),
  ];
  fs.mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
  fs.writeFileSync(
    path.join(REPO_ROOT, 'reports', `scenario-${ns}.json`),
    JSON.stringify(
      { summary, check, steps: finalStatus?.plan?.steps.map((p) => [p.id, p.startedAt, p.endedAt, p.note]) },
      null,
      2,
    ),
  );
  return {
    ...summary,
    outcome: result?.outcome ?? 'failed',
    failure:
      failure === undefined
        ? undefined
        : failure instanceof Error
          ? failure.message
          : JSON.stringify(failure),
    lostWrites: check.lostWrites,
    check,
    durationMs,
    finalMembers: (result?.finalMembers ?? finalStatus?.members ?? []).map((m) => ({
      name: m.name,
      cluster: m.side,
      learner: m.isLearner,
    })),
    hashKvConsistent: result?.evidence?.hashKv?.agree ?? false,
    temporalWorkflowId: workflowId,
    namespace: ns,
    status: finalStatus,
    secretValues,
    context,
    cleanup: () => cleanUp(ns),
  };
}

function cleanUp(ns: string): Promise<void> {
  return cleanUpScenario(ns, tlsScenarioSpec(ns));
}

export { podNetns };
