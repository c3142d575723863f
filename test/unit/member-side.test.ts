import { describe, expect, it } from 'vitest';
import { acrossTheLink, sideOfMember } from '../../core/routing/member-side.js';
import { makeSpec } from './fixtures/migration-spec.js';

describe('member sides', () => {
  const spec = makeSpec(); // source StatefulSet etcd, target etcd-main

  it('tells a member by its StatefulSet and ordinal', () => {
    expect(sideOfMember(spec, 'etcd-2')).toBe('source');
    expect(sideOfMember(spec, 'etcd-main-0')).toBe('target');
    expect(sideOfMember(spec, 'etcd-main')).toBe('unknown');
  });

  it('counts two members across the link only when both sides are known and differ', () => {
    expect(acrossTheLink(spec, 'etcd-0', 'etcd-main-2')).toBe(true);
    expect(acrossTheLink(spec, 'etcd-main-0', 'etcd-main-2')).toBe(false);
    expect(acrossTheLink(spec, 'etcd-0', 'etcd-1')).toBe(false);
    expect(acrossTheLink(spec, 'other-0', 'etcd-main-2')).toBe(false);
  });
});
