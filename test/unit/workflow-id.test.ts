/** The workflow ID derived from a spec's source and target, and the exit codes of `watch`. */
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeForEnding, type RunEnding } from '../../client/exit-codes.js';
import { MAX_READABLE_ID, migrationWorkflowId } from '../../core/workflow-id.js';

const end = (context: string, namespace = 'etcd', statefulSet = 'etcd') => ({
  context,
  namespace,
  statefulSet,
});

describe('migrationWorkflowId', () => {
  it('reads as source to target and is the same for the same spec', () => {
    const spec = { source: end('kind-a', 'db', 'etcd'), target: end('kind-b', 'db', 'etcd-main') };
    expect(migrationWorkflowId(spec)).toBe('etcd-stretch-kind-a.db.etcd-to-kind-b.db.etcd-main');
    expect(migrationWorkflowId({ ...spec })).toBe(migrationWorkflowId(spec));
  });

  it('differs when any of the six names differs', () => {
    const base = { source: end('a', 'n', 's'), target: end('b', 'n', 's') };
    const ids = new Set([
      migrationWorkflowId(base),
      migrationWorkflowId({ ...base, source: end('x', 'n', 's') }),
      migrationWorkflowId({ ...base, source: end('a', 'x', 's') }),
      migrationWorkflowId({ ...base, source: end('a', 'n', 'x') }),
      migrationWorkflowId({ ...base, target: end('x', 'n', 's') }),
      migrationWorkflowId({ ...base, target: end('b', 'x', 's') }),
      migrationWorkflowId({ ...base, target: end('b', 'n', 'x') }),
    ]);
    expect(ids.size).toBe(7);
  });

  it('replaces characters a shell or URL would trip on, with a hash that keeps look-alikes apart', () => {
    const odd = migrationWorkflowId({ source: end('team/a:one'), target: end('team b') });
    expect(odd).toMatch(/^etcd-stretch-team-a-one\.etcd\.etcd-to-team-b\.etcd\.etcd-[0-9a-f]{10}$/);
    const alike = migrationWorkflowId({ source: end('team-a-one'), target: end('team-b') });
    expect(alike).toBe('etcd-stretch-team-a-one.etcd.etcd-to-team-b.etcd.etcd');
    const other = migrationWorkflowId({ source: end('team:a/one'), target: end('team b') });
    expect(other).not.toBe(odd);
    // GKE's context names keep their underscores: safe as they are.
    expect(migrationWorkflowId({ source: end('gke_p_z_one'), target: end('gke_p_z_two') })).toBe(
      'etcd-stretch-gke_p_z_one.etcd.etcd-to-gke_p_z_two.etcd.etcd',
    );
  });

  it('cuts a long ID and keeps it unique with the hash', () => {
    const arn = (n: string) => `arn:aws:eks:eu-west-1:123456789012:cluster/a-rather-long-cluster-name-${n}`;
    const one = migrationWorkflowId({ source: end(arn('1')), target: end(arn('2')) });
    const two = migrationWorkflowId({ source: end(arn('1')), target: end(arn('3')) });
    expect(one.length).toBeLessThanOrEqual(MAX_READABLE_ID);
    expect(one.startsWith('etcd-stretch-arn-aws-eks-eu-west-1-123456789012-cluster-a-rather-long')).toBe(
      true,
    );
    expect(one).not.toBe(two);
  });
});

describe('exit codes', () => {
  it('each ending has its own code; only a completed run exits 0', () => {
    const endings: RunEnding[] = ['completed', 'failed', 'rolled-back', 'aborted', 'stopped', 'terminated'];
    const codes = endings.map(exitCodeForEnding);
    expect(codes).toEqual([0, 3, 4, 5, 6, 7]);
    expect(new Set(codes).size).toBe(endings.length);
    // None collides with the codes of a CLI error or wrong usage.
    expect(codes).not.toContain(EXIT.error);
    expect(codes).not.toContain(EXIT.usage);
  });
});
