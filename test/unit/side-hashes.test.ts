/**
 * Per-cluster verify-consistency: the workflow combines each side's hashKV reading into the
 * evidence, and a member that differs, could not be hashed or was not read at all is named.
 */
import { describe, expect, it } from 'vitest';
import type { SideHashKv } from '../../core/activity-contract.js';
import { combineSideHashes, membersBySide } from '../../core/routing/side-hashes.js';
import { makeSpec } from './fixtures/migration-spec.js';

const members = ['etcd-0', 'etcd-1', 'etcd-main-0', 'etcd-main-1'];

function reading(side: SideHashKv['side'], hashes: Record<string, string>, extra: Partial<SideHashKv> = {}) {
  return { side, revision: 120, hashes, ...extra };
}

describe('combineSideHashes', () => {
  it('both sides at one revision with one hash: the evidence holds every member, they agree', () => {
    const c = combineSideHashes(
      [
        reading('source', { 'etcd-0': '11', 'etcd-1': '11' }),
        reading('target', { 'etcd-main-0': '11', 'etcd-main-1': '11' }),
      ],
      members,
    );
    expect(c.hashKv).toEqual({
      revision: 120,
      agree: true,
      hashes: { 'etcd-0': '11', 'etcd-1': '11', 'etcd-main-0': '11', 'etcd-main-1': '11' },
    });
    expect(c.mismatched).toEqual([]);
    expect(c.summary).toMatch(/^hashKV agrees at revision 120 on 4 members/);
  });

  it('a member of the other side with a different hash is named, not the majority', () => {
    const c = combineSideHashes(
      [
        reading('source', { 'etcd-0': '11', 'etcd-1': '11' }),
        reading('target', { 'etcd-main-0': '11', 'etcd-main-1': '99' }),
      ],
      members,
    );
    expect(c.hashKv.agree).toBe(false);
    expect(c.mismatched).toEqual(['etcd-main-1']);
    expect(c.summary).toMatch(/^hashKV disagrees at revision 120: MISMATCH on etcd-main-1 \(/);
    expect(c.summary).toContain('etcd-main-1=99');
  });

  it('a member that could not be hashed fails the agreement, with its error', () => {
    const c = combineSideHashes(
      [
        reading('source', { 'etcd-0': '11', 'etcd-1': '11' }),
        reading('target', { 'etcd-main-0': '11' }, { errors: { 'etcd-main-1': 'future revision' } }),
      ],
      members,
    );
    expect(c.hashKv.agree).toBe(false);
    expect(c.hashKv.hashes).not.toHaveProperty('etcd-main-1');
    expect(c.mismatched).toEqual(['etcd-main-1']);
    expect(c.summary).toContain('etcd-main-1: future revision');
  });

  it('a member no side read, or a side read at another revision, fails the agreement', () => {
    const unread = combineSideHashes([reading('source', { 'etcd-0': '11', 'etcd-1': '11' })], members);
    expect(unread.hashKv.agree).toBe(false);
    expect(unread.mismatched).toEqual(['etcd-main-0', 'etcd-main-1']);

    const late = combineSideHashes(
      [
        reading('source', { 'etcd-0': '11', 'etcd-1': '11' }),
        reading('target', { 'etcd-main-0': '11', 'etcd-main-1': '11' }, { revision: 121 }),
      ],
      members,
    );
    expect(late.hashKv.agree).toBe(false);
    expect(late.mismatched).toEqual(['etcd-main-0', 'etcd-main-1']);
    expect(late.summary).toContain('target read at revision 121');
  });

  it('no hash at all is no agreement', () => {
    expect(combineSideHashes([], []).hashKv.agree).toBe(false);
  });
});

describe('membersBySide', () => {
  it("splits the step's members by the StatefulSet they belong to", () => {
    expect(membersBySide(makeSpec(), [...members, 'other-0'])).toEqual({
      source: ['etcd-0', 'etcd-1'],
      target: ['etcd-main-0', 'etcd-main-1'],
    });
  });
});
