/**
 * The example specs in examples/ load with the CLI's spec loader, and the real-cluster one
 * plans (offline) as its comments say: per-cluster workers, TLS, CoreDNS on both sides, manual
 * gates on the phases that change what members and clients see.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadMigrationSpecFile } from '../../client/spec-file.js';
import { assumedSourceMembers, planMigration } from '../../core/planner/plan.js';

const examples = new URL('../../examples/', import.meta.url);
const examplePath = (name: string) => new URL(name, examples).pathname;
const exampleFiles = readdirSync(examples).filter((f) => /\.(ya?ml|json)$/.test(f));

describe('example specs', () => {
  it('the sandbox and the real-cluster examples are there', () => {
    expect(exampleFiles).toEqual(expect.arrayContaining(['migration-spec.yaml', 'real-clusters.yaml']));
  });

  it.each(exampleFiles)('%s loads without errors', async (name) => {
    // loadMigrationSpecFile throws, listing every problem, on a spec that does not validate.
    const spec = await loadMigrationSpecFile(examplePath(name));
    expect(spec.kind).toBe('EtcdMigration');
  });

  it('real-clusters.yaml: per-cluster workers, TLS by reference, CoreDNS, manual gates, PVCs kept', async () => {
    const spec = await loadMigrationSpecFile(examplePath('real-clusters.yaml'));
    expect(spec.source.context).not.toBe(spec.target.context);
    expect(spec.workers.mode).toBe('per-cluster');
    expect(spec.tls.peer?.issueFrom).toBeDefined();
    expect(spec.tls.client?.issueFrom).toBeDefined();
    expect(spec.tls.operator?.name).toBeTruthy();
    expect(spec.auth?.secret.name).toBeTruthy();
    expect(spec.dns.sourceCluster.strategy).toBe('coredns-hosts');
    expect(spec.dns.targetCluster.strategy).toBe('coredns-hosts');
    expect(spec.source.loadBalancer.allowAnyone).toBe(false);
    expect(spec.target.loadBalancer.allowAnyone).toBe(false);
    expect(spec.cleanup.deletePVCs).toBe(false);

    const plan = planMigration({ spec, observed: { members: assumedSourceMembers(spec, 3) } });
    const gates = Object.fromEntries(
      plan.steps.flatMap((step) => (step.kind === 'gate' ? [[step.gate, step.approval]] : [])),
    );
    expect(gates).toMatchObject({
      join: 'manual',
      leader: 'manual',
      'switch-clients': 'manual',
      cleanup: 'manual',
    });
    // TLS on both ports across the clouds: the plan has no plain-http or open-to-anyone warning.
    expect(plan.warnings.filter((w) => /plain http|ANYONE/.test(w))).toEqual([]);
    expect(plan.steps.some((step) => step.kind === 'issue-certificates')).toBe(true);
  });
});
