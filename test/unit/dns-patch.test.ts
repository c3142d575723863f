import { describe, expect, it } from 'vitest';
import { opsToAdd, opsToRemove } from '../../activities/kubernetes/dns-patch.js';
import { applyJsonPatch, matchTemplate, type PatchOp } from '../../activities/kubernetes/json-patch.js';

// The article's platform: static hosts in the kube-dns module configuration (a list).
const MODULE_CONFIG = {
  apiVersion: 'deckhouse.io/v1alpha1',
  kind: 'ModuleConfig',
  metadata: { name: 'kube-dns', resourceVersion: '42' },
  spec: { version: 1, settings: { hosts: [{ domain: 'registry.internal', ip: '10.0.0.1' }] } },
};
const LIST_OPS: PatchOp[] = [
  { op: 'add', path: '/spec/settings/hosts/-', value: { domain: '{{name}}', ip: '{{ip}}' } },
];
// A map-shaped alternative: one key per name.
const MAP_OPS: PatchOp[] = [{ op: 'add', path: '/data/{{name}}', value: '{{ip}}' }];

const ENTRIES = [
  { ip: '198.19.2.10', hostnames: ['etcd-main-0', 'etcd-main-0.etcd-main'] },
  { ip: '198.19.2.11', hostnames: ['etcd-main-1'] },
];

describe('patch DNS strategy (JSON-patch templates)', () => {
  it('appends one element per host name, and nothing when they are already there', () => {
    const ops = opsToAdd(MODULE_CONFIG, LIST_OPS, ENTRIES);
    expect(ops).toHaveLength(3);
    const after = applyJsonPatch(MODULE_CONFIG, ops) as typeof MODULE_CONFIG;
    expect(after.spec.settings.hosts).toEqual([
      { domain: 'registry.internal', ip: '10.0.0.1' },
      { domain: 'etcd-main-0', ip: '198.19.2.10' },
      { domain: 'etcd-main-0.etcd-main', ip: '198.19.2.10' },
      { domain: 'etcd-main-1', ip: '198.19.2.11' },
    ]);
    expect(opsToAdd(after, LIST_OPS, ENTRIES)).toEqual([]);
  });

  it('moves a name to its new IP instead of listing it twice', () => {
    const after = applyJsonPatch(MODULE_CONFIG, opsToAdd(MODULE_CONFIG, LIST_OPS, ENTRIES));
    const moved = applyJsonPatch(
      after,
      opsToAdd(after, LIST_OPS, [{ ip: '198.19.2.99', hostnames: ['etcd-main-1'] }]),
    );
    expect(
      (moved as typeof MODULE_CONFIG).spec.settings.hosts.filter((h) => h.domain === 'etcd-main-1'),
    ).toEqual([{ domain: 'etcd-main-1', ip: '198.19.2.99' }]);
  });

  it('removes by inverting the template (any IP), leaving other entries; again changes nothing', () => {
    const after = applyJsonPatch(MODULE_CONFIG, opsToAdd(MODULE_CONFIG, LIST_OPS, ENTRIES));
    const names = ENTRIES.flatMap((e) => e.hostnames);
    const ops = opsToRemove(after, { ops: LIST_OPS }, names);
    const back = applyJsonPatch(after, ops);
    expect(back).toEqual(MODULE_CONFIG);
    expect(opsToRemove(back, { ops: LIST_OPS }, names)).toEqual([]);
  });

  it('works on a map: writes keys, skips equal values, removes keys', () => {
    const cm = { metadata: { name: 'dns' }, data: { other: 'x' } };
    const ops = opsToAdd(cm, MAP_OPS, ENTRIES);
    const after = applyJsonPatch(cm, ops);
    expect(after).toEqual({
      metadata: { name: 'dns' },
      data: {
        other: 'x',
        'etcd-main-0': '198.19.2.10',
        'etcd-main-0.etcd-main': '198.19.2.10',
        'etcd-main-1': '198.19.2.11',
      },
    });
    expect(opsToAdd(after, MAP_OPS, ENTRIES)).toEqual([]);
    expect(
      applyJsonPatch(
        after,
        opsToRemove(after, { ops: MAP_OPS }, ['etcd-main-0', 'etcd-main-0.etcd-main', 'etcd-main-1']),
      ),
    ).toEqual(cm);
  });

  it('uses cleanupOps when given, resolving {{ip}} from the object and skipping what is gone', () => {
    const cleanupOps: PatchOp[] = [{ op: 'remove', path: '/data/{{name}}' }];
    const cm = { data: { 'etcd-main-0': '198.19.2.10', keep: 'y' } };
    expect(
      applyJsonPatch(cm, opsToRemove(cm, { ops: MAP_OPS, cleanupOps }, ['etcd-main-0', 'absent'])),
    ).toEqual({
      data: { keep: 'y' },
    });
    const withIp: PatchOp[] = [{ op: 'remove', path: '/byIp/{{ip}}' }];
    const doc = { data: { 'etcd-main-0': '198.19.2.10' }, byIp: { '198.19.2.10': 'etcd-main-0' } };
    expect(
      applyJsonPatch(doc, opsToRemove(doc, { ops: MAP_OPS, cleanupOps: withIp }, ['etcd-main-0'])),
    ).toEqual({
      data: { 'etcd-main-0': '198.19.2.10' },
      byIp: {},
    });
  });

  it('matches templates with unbound placeholders and reports what they matched', () => {
    expect(matchTemplate({ domain: 'a', ip: '1.2.3.4' }, { domain: 'a', ip: '{{ip}}' })).toEqual({
      ip: '1.2.3.4',
    });
    expect(matchTemplate({ domain: 'b', ip: '1.2.3.4' }, { domain: 'a', ip: '{{ip}}' })).toBeUndefined();
    expect(matchTemplate({ domain: 'a', ip: '1', extra: 1 }, { domain: 'a', ip: '{{ip}}' })).toBeUndefined();
    expect(matchTemplate('1.2.3.4 a', '{{ip}} a')).toEqual({ ip: '1.2.3.4' });
  });

  it('refuses a template that cannot apply (the path is missing)', () => {
    expect(() => opsToAdd({ spec: {} }, LIST_OPS, ENTRIES)).toThrow(/does not exist/);
  });
});
