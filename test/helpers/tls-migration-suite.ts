/**
 * The TLS + auth migration (issues #7 and #16 item 10) as a suite a test file runs for some of
 * its source set-ups: test/e2e/tls-auth-migration.test.ts runs one in the test command,
 * test/faults/tls-source-styles.test.ts the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { startTestEnvironment, workflowBundle } from '../workflow/harness.js';
import { historyText, secretsFoundIn } from './history-secrets.js';
import { booleanFlag } from '../../activities/kubernetes/etcd-flags.js';
import { SKIP_SAN, etcdContainerOf, tlsSourceStatefulSet, type TlsSource } from './tls-sources.js';
import {
  memberClient,
  podNetns,
  runTlsScenario,
  tlsConnectFromPod,
  type TlsScenarioContext,
  type TlsScenarioReport,
} from './tls-scenario.js';

let env: TestWorkflowEnvironment;

interface GateProbe {
  fromAllowed?: { verified: boolean; output: string };
  fromOutside?: { verified: boolean; output: string };
  from?: string;
  outside?: string;
}

/** Peer port of etcd-secure-0's load balancer, from an old member's pod (allowed) and a new one's (not). */
async function probeLoadBalancer(ctx: TlsScenarioContext, atGate: GateProbe): Promise<void> {
  const lb = await ctx.target.core.readNamespacedService({
    name: 'etcd-secure-0-lb',
    namespace: ctx.namespace,
  });
  const address = `${lb.status!.loadBalancer!.ingress![0]!.ip}:2380`;
  const sourcePod = await ctx.source.core.readNamespacedPod({ name: 'etcd-0', namespace: ctx.namespace });
  const targetPod = await ctx.target.core.readNamespacedPod({
    name: 'etcd-secure-1',
    namespace: ctx.namespace,
  });
  atGate.from = sourcePod.status!.podIP!;
  atGate.outside = targetPod.status!.podIP!;
  atGate.fromAllowed = await tlsConnectFromPod(
    podNetns(ctx.source, sourcePod),
    address,
    ctx.ca,
    ctx.clientCert,
    'etcd-secure-0',
  );
  atGate.fromOutside = await tlsConnectFromPod(
    podNetns(ctx.target, targetPod),
    address,
    ctx.ca,
    ctx.clientCert,
    'etcd-secure-0',
  );
}

function guarded<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  ]);
}

export interface TlsRun {
  title: string;
  source: TlsSource;
  wildcardCertificates: boolean;
}

export const TLS_RUNS: TlsRun[] = [
  {
    title: 'etcd 3.5 by args, the SAN-check setting a bare flag, old member certificates for *.etcd',
    source: { style: 'args', version: '3.5' },
    wildcardCertificates: true,
  },
  {
    title: 'etcd 3.4 by an sh -c script, the SAN-check setting a flag in the script',
    source: { style: 'script', version: '3.4' },
    wildcardCertificates: false,
  },
  {
    title: 'etcd 3.6, the SAN-check setting an ETCD_* variable, old member certificates for *.etcd',
    source: { style: 'env', version: '3.6' },
    wildcardCertificates: true,
  },
];

export function describeTlsMigrations(runs: TlsRun[]): void {
  beforeAll(async () => {
    env = await startTestEnvironment();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  describe.each(runs)('secure by default: migrate a TLS + auth etcd: $title', (run) => {
    let report: TlsScenarioReport | undefined;
    const atGate: GateProbe = {};
    afterAll(async () => {
      await report?.cleanup();
    });

    it('completes under live load: 3 new members, no failed operation, no lost write, hashKV equal', async () => {
      report = await runTlsScenario({
        client: env.client,
        connection: env.nativeConnection,
        source: run.source,
        wildcardCertificates: run.wildcardCertificates,
        atSwitchGate: (ctx) => probeLoadBalancer(ctx, atGate),
        onProgress: (line) => console.log(`[tls ${run.source.version} ${run.source.style}] ${line}`),
      });
      expect(report.outcome, report.failure ?? report.status?.error ?? undefined).toBe('completed');
      expect(report.finalMembers).toHaveLength(3);
      expect(report.finalMembers.every((m) => m.cluster === 'target' && !m.learner)).toBe(true);
      expect(report.opsTotal).toBeGreaterThan(500);
      expect(report.failedOps, report.firstFailures.join('\n')).toBe(0);
      expect(report.lostWrites).toBe(0);
      expect(report.check.violations).toEqual([]);
      expect(report.hashKvConsistent).toBe(true);
      // The certificates were issued by the migration, into the Secrets the plan named.
      const issue = report.status?.plan?.steps.find((s) => s.kind === 'issue-certificates');
      expect(issue?.state).toBe('done');
      expect(issue?.note).toContain('etcd-secure-peer-tls: issued 3');
    });

    it('gives the new members the SAN-check setting once, where and as the source writes it', async () => {
      const ctx = report!.context;
      // The source StatefulSet is gone after cleanup: its template is the fixture as applied.
      const source = etcdContainerOf(tlsSourceStatefulSet(run.source));
      const target = etcdContainerOf(
        await ctx.target.apps.readNamespacedStatefulSet({ name: 'etcd-secure', namespace: ctx.namespace }),
      );
      expect(source.image).toContain(run.source.version === '3.6' ? ':3.6.' : `:v${run.source.version}.`);
      expect(target.image).toBe(source.image);
      expect(booleanFlag(source, SKIP_SAN)?.where).toBe(run.source.style);
      expect(booleanFlag(target, SKIP_SAN)).toEqual({
        where: run.source.style,
        text: run.source.style === 'env' ? 'true' : '',
        value: true,
      });
      // Once: not also as a variable beside a flag, nor under etcd 3.6's new name.
      const everywhere = JSON.stringify([target.command, target.args, target.env]);
      expect(
        everywhere.match(/PEER_SKIP_CLIENT_SAN_VERIFICATION|peer-skip-client-san-verification/gi),
      ).toHaveLength(1);
    });

    it('refuses a peer connection to a member load balancer from outside its allowed ranges', () => {
      // Allowed (the source pod range): the TLS handshake reaches etcd-secure-0 and its certificate verifies.
      expect(atGate.fromAllowed?.verified, atGate.fromAllowed?.output).toBe(true);
      // From a target pod (198.18.2.0/24, not allowed on the target load balancers): reset, no TLS.
      expect(atGate.fromOutside?.verified, atGate.fromOutside?.output).toBe(false);
      expect(atGate.fromOutside?.output).toMatch(/errno=104|reset|connect:errno|unexpected eof|write:errno/i);
      expect(atGate.from?.startsWith('198.18.1.')).toBe(true);
      expect(atGate.outside?.startsWith('198.18.2.')).toBe(true);
    });

    it("moves the readiness probe's certificate paths to each new member's own files, and every new member is Ready", async () => {
      const ctx = report!.context;
      const sts = await ctx.target.apps.readNamespacedStatefulSet({
        name: 'etcd-secure',
        namespace: ctx.namespace,
      });
      const etcd = sts.spec!.template.spec!.containers[0]!;
      expect(etcd.readinessProbe!.exec!.command!.join(' ')).toContain(
        '--cert=/etc/etcd-stretch/client/${STRETCH_POD_NAME}.crt --key=/etc/etcd-stretch/client/${STRETCH_POD_NAME}.key',
      );
      expect(etcd.env!.find((e) => e.name === 'ETCDCTL_CACERT')?.value).toBe(
        '/etc/etcd-stretch/client/ca.crt',
      );
      const pods = (await ctx.target.core.listNamespacedPod({ namespace: ctx.namespace })).items;
      expect(pods.map((p) => p.metadata!.name).sort()).toEqual([
        'etcd-secure-0',
        'etcd-secure-1',
        'etcd-secure-2',
      ]);
      for (const pod of pods)
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, pod.metadata!.name).toBe(
          'True',
        );
    });

    it('refuses a client certificate from another CA and a client without one; accepts the CA-signed one', async () => {
      const ctx = report!.context;
      const pod = await ctx.target.core.readNamespacedPod({
        name: 'etcd-secure-0',
        namespace: ctx.namespace,
      });
      const endpoint = `https://${pod.status!.podIP}:2379`;
      const root = { username: 'root', password: ctx.rootPassword };
      const good = memberClient(endpoint, 'etcd-secure-0.etcd-secure', ctx.ca, ctx.clientCert, root);
      const foreign = memberClient(endpoint, 'etcd-secure-0.etcd-secure', ctx.ca, ctx.foreignCert, root);
      const anonymous = memberClient(endpoint, 'etcd-secure-0.etcd-secure', ctx.ca, undefined, root);
      const wrongPassword = memberClient(endpoint, 'etcd-secure-0.etcd-secure', ctx.ca, ctx.clientCert, {
        username: 'root',
        password: `${ctx.rootPassword}x`,
      });
      try {
        expect(await guarded(good.get('data/1').string())).toBe('seed-1');
        await expect(guarded(foreign.get('data/1').string())).rejects.toThrow();
        await expect(guarded(anonymous.get('data/1').string())).rejects.toThrow();
        await expect(guarded(wrongPassword.get('data/1').string())).rejects.toThrow(/authentication failed/i);
      } finally {
        for (const c of [good, foreign, anonymous, wrongPassword]) c.close();
      }
    });

    it('leaves no secret value in the workflow history (inputs, results, failures, markers)', async () => {
      const history = await env.client.workflow.getHandle(report!.temporalWorkflowId).fetchHistory();
      const text = historyText(history);
      // Control: the search sees inside payloads (the spec's references are there, decoded).
      expect(text).toContain(`"namespace":"${report!.namespace}"`);
      expect(text).toContain('"caSecret":"etcd-ca"');
      expect(text).toContain('etcd-secure-peer-tls');
      const secrets = report!.secretValues;
      expect(secrets.filter((s) => s.what.startsWith('issued')).length).toBe(6);
      expect(secrets.length).toBeGreaterThanOrEqual(12);
      // Control: each secret would be found if it were there.
      for (const s of secrets) expect(secretsFoundIn(`x${s.value}x`, [s])).toEqual([s.what]);
      expect(secretsFoundIn(text, secrets)).toEqual([]);
    });

    it("replays the run's history", async () => {
      const history = await env.client.workflow.getHandle(report!.temporalWorkflowId).fetchHistory();
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle() },
        history,
        report!.temporalWorkflowId,
      );
    });
  });
}
