/**
 * Preflight's decisions on the source etcd (issue #16, item 8): which target etcd version may
 * join the source, whether a 3.4 source runs with pre-vote (wherever the flag is written), and
 * what a hashKV disagreement refuses. test/etcd/source-hashkv.test.ts checks hashKV on real etcd.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { V1Container, V1StatefulSet } from '@kubernetes/client-node';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import type { EndpointObservation, HashKVResult } from '../../activities/etcd/types.js';
import { booleanFlag } from '../../activities/kubernetes/etcd-flags.js';
import {
  hashKvRefusals,
  preVoteWarning,
  targetVersionCheck,
} from '../../activities/migration/source-etcd-checks.js';

/** Members that answered with these versions, named etcd-0, etcd-1, ... */
const running = (...versions: string[]): EndpointObservation[] =>
  versions.map((version, i) => ({
    name: `etcd-${i}`,
    endpoint: `http://10.0.0.${i}:2379`,
    reachable: true,
    status: { version } as EndpointObservation['status'],
  }));

const refusalsFor = (image: string, ...versions: string[]) =>
  targetVersionCheck(image, running(...versions)).refusals;

describe('the target etcd version: the source minor version or the next one', () => {
  it('admits the same minor version, any patch release, up or down', () => {
    expect(refusalsFor('quay.io/coreos/etcd:v3.4.18', '3.4.18', '3.4.18', '3.4.18')).toEqual([]);
    expect(refusalsFor('quay.io/coreos/etcd:v3.4.3', '3.4.18', '3.4.18')).toEqual([]);
    expect(refusalsFor('gcr.io/etcd-development/etcd:v3.5.0', '3.5.17')).toEqual([]);
  });

  it('admits one minor version up (3.4 -> 3.5, 3.5 -> 3.6)', () => {
    expect(refusalsFor('gcr.io/etcd-development/etcd:v3.5.17', '3.4.18', '3.4.18', '3.4.18')).toEqual([]);
    expect(refusalsFor('registry.k8s.io/etcd:3.6.4-0', '3.5.17', '3.5.17', '3.5.17')).toEqual([]);
  });

  it('refuses more than one minor version up (3.4 -> 3.6), naming the image, both versions and what to set', () => {
    expect(refusalsFor('registry.k8s.io/etcd:3.6.4-0', '3.4.18', '3.4.18', '3.4.18')).toEqual([
      "image registry.k8s.io/etcd:3.6.4-0 is etcd 3.6, more than one minor version above the source's etcd 3.4 (etcd-0, etcd-1, etcd-2): etcd 3.6 refuses to join a 3.4 cluster; set target.image to etcd 3.4 or 3.5 (upgrade one minor version at a time)",
    ]);
    expect(refusalsFor('example.com/etcd:v4.0.0', '3.5.17')).toHaveLength(1);
  });

  it('refuses a downgrade (a lower minor version)', () => {
    expect(refusalsFor('quay.io/coreos/etcd:v3.4.18', '3.5.17', '3.5.17', '3.5.17')).toEqual([
      "image quay.io/coreos/etcd:v3.4.18 is etcd 3.4, older than the source's etcd 3.5 (etcd-0, etcd-1, etcd-2): etcd refuses a member older than its cluster (no downgrade); set target.image to etcd 3.5 or 3.6",
    ]);
  });

  it('measures against the lowest version a member runs (the cluster version during an upgrade)', () => {
    expect(refusalsFor('quay.io/coreos/etcd:v3.4.18', '3.5.17', '3.4.18', '3.5.17')).toEqual([]);
    const [refusal] = refusalsFor('registry.k8s.io/etcd:3.6.4-0', '3.5.17', '3.4.18', '3.5.17');
    expect(refusal).toMatch(/above the source's etcd 3\.4 \(etcd-1\): /);
  });

  it('leaves a target older than 3.4 to the learners check, and unknown member versions alone', () => {
    expect(targetVersionCheck('quay.io/coreos/etcd:v3.3.25', running('3.4.18'))).toEqual({
      refusals: [],
      warnings: [],
    });
    expect(targetVersionCheck('registry.k8s.io/etcd:3.6.4-0', running('unknown'))).toEqual({
      refusals: [],
      warnings: [],
    });
  });

  it('a tag without a version: a warning that says which versions etcd would admit, no refusal', () => {
    for (const image of ['quay.io/coreos/etcd:latest', 'example.com/etcd@sha256:0123abcd', 'etcd']) {
      const check = targetVersionCheck(image, running('3.4.18', '3.4.18'));
      expect(check.refusals).toEqual([]);
      expect(check.warnings).toEqual([
        `cannot read an etcd version from the tag of image ${image}: the new members need etcd >= 3.4 (learners) and etcd admits only members of 3.4 or 3.5 into the source cluster; make sure the image is one of those`,
      ]);
    }
  });
});

const ARTICLE = path.join(import.meta.dirname, '..', 'fixtures', 'article-etcd.yaml');

/** The article's etcd container (a shell script that runs `etcd --name=$HOSTNAME ...`). */
function articleContainer(): V1Container {
  const sts = YAML.parseAllDocuments(fs.readFileSync(ARTICLE, 'utf8'))
    .map((d) => d.toJS() as V1StatefulSet)
    .find((d) => d.kind === 'StatefulSet')!;
  return sts.spec!.template.spec!.containers[0]!;
}

/** The article's container with `--pre-vote...` (or nothing) added to its script after --name. */
function withScriptFlag(flag: string): V1Container {
  const c = articleContainer();
  return { ...c, args: c.args!.map((a) => a.replace('--name=$HOSTNAME \\', `--name=$HOSTNAME ${flag} \\`)) };
}

describe('pre-vote: where etcd reads it from', () => {
  const plain: V1Container = { name: 'etcd', image: 'quay.io/coreos/etcd:v3.4.18', command: ['etcd'] };

  it('a bare flag is on, whatever token follows it; =false and =0 are off', () => {
    expect(booleanFlag({ ...plain, args: ['--pre-vote', '--name=etcd-0'] }, 'pre-vote')?.value).toBe(true);
    expect(booleanFlag({ ...plain, args: ['--name=etcd-0', '-pre-vote'] }, 'pre-vote')?.value).toBe(true);
    expect(booleanFlag({ ...plain, args: ['--pre-vote=false'] }, 'pre-vote')?.value).toBe(false);
    expect(booleanFlag({ ...plain, command: ['etcd', '--pre-vote=0'] }, 'pre-vote')?.value).toBe(false);
    expect(booleanFlag({ ...plain, args: ['--pre-vote=TRUE'] }, 'pre-vote')?.value).toBe(true);
    expect(booleanFlag({ ...plain, args: ['--pre-vote-later=true'] }, 'pre-vote')).toBeUndefined();
    expect(booleanFlag(plain, 'pre-vote')).toBeUndefined();
  });

  it('in a script, bare or with a value, quoted or not, before a line continuation', () => {
    expect(booleanFlag(withScriptFlag('--pre-vote'), 'pre-vote')).toEqual({
      where: 'script',
      text: '',
      value: true,
    });
    expect(booleanFlag(withScriptFlag('--pre-vote=false'), 'pre-vote')?.value).toBe(false);
    expect(booleanFlag(withScriptFlag('"--pre-vote=true"'), 'pre-vote')?.value).toBe(true);
    expect(booleanFlag(withScriptFlag(`--pre-vote='true'`), 'pre-vote')?.value).toBe(true);
    const continued = articleContainer();
    // `\` right after the flag continues the line; the next one starts with blanks.
    continued.args = continued.args!.map((a) =>
      a.replace('--name=$HOSTNAME \\', '--name=$HOSTNAME \\\n--pre-vote\\\n  '),
    );
    expect(booleanFlag(continued, 'pre-vote')?.value).toBe(true);
    expect(booleanFlag(articleContainer(), 'pre-vote')).toBeUndefined();
  });

  it('in the environment (ETCD_PRE_VOTE); a flag wins over it, and the last flag wins', () => {
    const env = (value: string): V1Container => ({ ...plain, env: [{ name: 'ETCD_PRE_VOTE', value }] });
    expect(booleanFlag(env('true'), 'pre-vote')).toEqual({ where: 'env', text: 'true', value: true });
    expect(booleanFlag(env('false'), 'pre-vote')?.value).toBe(false);
    expect(booleanFlag({ ...env('false'), args: ['--pre-vote'] }, 'pre-vote')?.value).toBe(true);
    expect(booleanFlag({ ...plain, args: ['--pre-vote', '--pre-vote=false'] }, 'pre-vote')?.value).toBe(
      false,
    );
  });

  it('a value only the pod resolves is read as unknown', () => {
    expect(booleanFlag(withScriptFlag('--pre-vote=$PRE_VOTE'), 'pre-vote')).toEqual({
      where: 'script',
      text: '$PRE_VOTE',
      value: undefined,
    });
  });
});

describe('pre-vote: a warning for a 3.4 source that runs without it', () => {
  it("the article's etcd 3.4 (no --pre-vote): a warning naming the members and what to do", () => {
    expect(preVoteWarning(articleContainer(), running('3.4.18', '3.4.18', '3.4.18'))).toBe(
      'etcd members etcd-0, etcd-1, etcd-2 run etcd 3.4 without --pre-vote (3.4 leaves it off, 3.5 and later turn it on): a member cut off by a blip of the cross-cluster links forces a leader election when it comes back; consider restarting the old members with --pre-vote=true (or ETCD_PRE_VOTE=true) before the migration',
    );
  });

  it('pre-vote turned off explicitly: says where', () => {
    const c = { ...articleContainer(), env: [{ name: 'ETCD_PRE_VOTE', value: 'false' }] };
    expect(preVoteWarning(c, running('3.4.18'))).toMatch(
      /^etcd members etcd-0 run etcd 3\.4 with pre-vote off \(ETCD_PRE_VOTE=false\) /,
    );
    expect(preVoteWarning(withScriptFlag('--pre-vote=false'), running('3.4.18'))).toMatch(
      /with pre-vote off \(--pre-vote=false\)/,
    );
  });

  it('no warning with pre-vote on (flag, script or environment) or an unknown value', () => {
    const members = running('3.4.18', '3.4.18', '3.4.18');
    expect(preVoteWarning(withScriptFlag('--pre-vote'), members)).toBeUndefined();
    expect(preVoteWarning(withScriptFlag('--pre-vote=$PRE_VOTE'), members)).toBeUndefined();
    const env = { ...articleContainer(), env: [{ name: 'ETCD_PRE_VOTE', value: 'true' }] };
    expect(preVoteWarning(env, members)).toBeUndefined();
  });

  it('no warning for 3.5 and later (pre-vote is on by default) or unknown versions; only 3.4 members named', () => {
    expect(preVoteWarning(articleContainer(), running('3.5.17', '3.5.17', '3.6.4'))).toBeUndefined();
    expect(preVoteWarning(articleContainer(), running('unknown'))).toBeUndefined();
    expect(preVoteWarning(articleContainer(), running('3.5.17', '3.4.18'))).toMatch(
      /^etcd members etcd-1 run etcd 3\.4 /,
    );
  });
});

/** A hashKV result with these (hash, compact revision) per member. */
function hashes(values: Record<string, [number, number]>, errors: HashKVResult['errors'] = []): HashKVResult {
  const list = Object.entries(values).map(([name, [hash, compactRevision]]) => ({
    name,
    id: name,
    hash,
    compactRevision,
    revision: 120,
  }));
  const agree = new Set(list.map((h) => `${h.hash}/${h.compactRevision}`)).size <= 1 && errors.length === 0;
  return { revision: 120, agree, hashes: list, mismatched: [], errors, summary: '' };
}

describe('hashKV: the members must hold the same data', () => {
  it('agreeing members: no refusal', () => {
    expect(hashKvRefusals(hashes({ 'etcd-0': [7, 40], 'etcd-1': [7, 40], 'etcd-2': [7, 40] }))).toEqual([]);
  });

  it('one member differs from the majority: one refusal naming it, the others and the hashes', () => {
    expect(hashKvRefusals(hashes({ 'etcd-0': [7, 40], 'etcd-1': [7, 40], 'etcd-2': [9, 40] }))).toEqual([
      "etcd member etcd-2 disagrees with etcd-0, etcd-1 on hashKV at revision 120 (etcd-0 7, etcd-1 7, etcd-2 9): its data differs from the other members'; replace that member (etcdctl member remove, clear the data dir, add it back) before the migration",
    ]);
  });

  it('two of five differ: both named; a different compact revision is shown', () => {
    const [refusal, ...more] = hashKvRefusals(
      hashes({ a: [7, 40], b: [7, 40], c: [7, 40], d: [9, 40], e: [5, 41] }),
    );
    expect(more).toEqual([]);
    expect(refusal).toMatch(/^etcd members d, e disagree with a, b, c on hashKV at revision 120 \(/);
    expect(refusal).toContain('e 5 (compacted at 41)');
    expect(refusal).toContain('replace them (etcdctl member remove, clear the data dir, add them back)');
  });

  it('no majority: one refusal naming every member', () => {
    expect(hashKvRefusals(hashes({ 'etcd-0': [7, 40], 'etcd-1': [9, 40] }))).toEqual([
      'etcd members disagree on hashKV at revision 120 and no majority agrees (etcd-0 7, etcd-1 9): their data differs; find out which copy is right and repair the cluster before the migration',
    ]);
  });

  it('a member that cannot be hashed is refused, not skipped', () => {
    expect(
      hashKvRefusals(
        hashes({ 'etcd-0': [7, 40], 'etcd-1': [7, 40] }, [{ name: 'etcd-2', error: 'permission denied' }]),
      ),
    ).toEqual([
      'cannot read hashKV of etcd member etcd-2 at revision 120: permission denied; every member must answer hashKV before the migration (it compares their data)',
    ]);
  });
});
