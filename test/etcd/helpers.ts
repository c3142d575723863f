/** Calling the etcd library as the migration activities do, from the tests against real etcd. */
import type { ApplicationFailure } from '@temporalio/common';
import { evaluateChange, type ClusterChange, type GuardVerdict } from '../../core/safety-guard.js';
import { toApplicationFailure } from '../../activities/errors.js';
import { withConnection, type EtcdConnection } from '../../activities/etcd/connection.js';
import { guardInputFrom, observeCluster } from '../../activities/etcd/observe.js';
import type { EtcdAccess } from '../../activities/etcd/types.js';
import { createSecretResolver, type SecretResolver } from '../../activities/secret-ref.js';
import { rejectionOf } from '../helpers/etcd-cluster.js';

/** Runs `fn` on a connection to `access` (secrets read from files by default), closed afterwards. */
export function onEtcd<T>(
  access: EtcdAccess,
  fn: (conn: EtcdConnection) => Promise<T>,
  secrets: SecretResolver = createSecretResolver(),
): Promise<T> {
  return withConnection(access, secrets, fn);
}

/** What a rejection becomes at the activity boundary: the failure the workflow sees. */
export async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  return toApplicationFailure(await rejectionOf(p));
}

/** The guard's verdict on `change` from a fresh observation (changes nothing). */
export function verdictOn(
  access: EtcdAccess,
  change: ClusterChange,
  requiredFaultTolerance: number,
): Promise<GuardVerdict> {
  return onEtcd(access, async (conn) =>
    evaluateChange(guardInputFrom(await observeCluster(conn), change, requiredFaultTolerance)),
  );
}
