/** For the CLI's `plan`: the source's current member list, read-only. */
import { withConnection } from '../etcd/connection.js';
import { listMembers } from '../etcd/observe.js';
import { kubeClientFactory } from '../kubernetes/clients.js';
import type { ObservedMember } from '../../core/planner/plan-types.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { createSecretResolver } from '../secret-ref.js';
import { etcdAccess } from './etcd-access.js';
import { kubeconfigFromEnvironment } from './kubeconfig.js';

export async function observeSourceForPlan(spec: MigrationSpec): Promise<ObservedMember[]> {
  const clients = kubeClientFactory(kubeconfigFromEnvironment());
  const access = await etcdAccess({ clients }, spec, { sides: ['source'] });
  if (Object.keys(access.endpoints).length === 0) {
    throw new Error(
      `no running pod of ${spec.source.namespace}/${spec.source.statefulSet} in context ${spec.source.context} to read the member list from (or use --offline)`,
    );
  }
  const list = await withConnection(access, createSecretResolver(), (conn) => listMembers(conn));
  return list.members.map((m) => ({ name: m.name, id: m.id, peerURLs: m.peerURLs, isLearner: m.isLearner }));
}
