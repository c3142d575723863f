import { describe, expect, it } from 'vitest';
import type { EtcdConnection } from '../../activities/etcd/connection.js';
import { EtcdRequestFailed, EtcdUnavailable, classifyEtcdError } from '../../activities/etcd/errors.js';
import { viaAny } from '../../activities/etcd/observe.js';

describe('a member that is shutting down', () => {
  const stopping = ['2 UNKNOWN: raft: stopped', '2 UNKNOWN: etcdserver: server stopped'];

  it('counts as unreachable, not as an answer', () => {
    for (const msg of stopping) {
      const err = classifyEtcdError(new Error(msg), { operation: 'alarm list', target: 'etcd-0' });
      expect(err).toBeInstanceOf(EtcdUnavailable);
    }
    // An answer that is a refusal stays one.
    expect(classifyEtcdError(new Error('2 UNKNOWN: something else'), { operation: 'x' })).toBeInstanceOf(
      EtcdRequestFailed,
    );
  });

  it('makes a read go on to the next member', async () => {
    // A removed member stops its raft before its process exits, and still answers on its port.
    const asked: string[] = [];
    const r = await viaAny({} as EtcdConnection, ['etcd-0', 'etcd-main-0'], 'alarm list', (name) => {
      asked.push(name);
      if (name === 'etcd-0')
        return Promise.reject(classifyEtcdError(new Error(stopping[0]), { operation: 'alarm list' }));
      return Promise.resolve('alarms');
    });
    expect(r).toEqual({ value: 'alarms', name: 'etcd-main-0' });
    expect(asked).toEqual(['etcd-0', 'etcd-main-0']);
  });
});
