/**
 * The target cluster lost in the middle of a migration: every member load balancer of the
 * scenario's namespace drops what it receives, in both clusters (the link is gone both ways,
 * the lost members cannot reach the old ones either), and the target's API server stops. The
 * target's pods keep running, cut off, as a cluster behind a dead link would. `restore` starts
 * the API server again and deletes the scenario's target namespace, so later runs find a
 * working sandbox.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { clusterDir, type ClusterName } from '../../sandbox/config.js';
import { restartApiserver, stopApiserver } from '../../sandbox/control-plane.js';
import { LB_FAULT_ANNOTATION } from '../../sandbox/node-agent/load-balancer.js';
import { clusterClient, waitFor } from './kube.js';

export interface TargetLoss {
  /** The load balancers that drop, as `<cluster>/<service>`. */
  cut: string[];
  lostAt: number;
  restore(): Promise<void>;
}

const agentLog = (cluster: ClusterName) =>
  fs.readFileSync(path.join(clusterDir(cluster), 'logs', 'node-agent.log'), 'utf8');

export async function loseTarget(namespace: string): Promise<TargetLoss> {
  const cut: string[] = [];
  let apiserverStopped = false;
  const restore = async () => {
    if (apiserverStopped) await restartApiserver('target');
    apiserverStopped = false;
    const target = clusterClient('target');
    await target.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await waitFor(
      `target namespace ${namespace} deleted`,
      () =>
        target.core.readNamespace({ name: namespace }).then(
          () => false,
          () => true,
        ),
      { timeoutMs: 180_000 },
    );
  };
  try {
    for (const cluster of ['source', 'target'] as const) {
      const c = clusterClient(cluster);
      const services = await c.core.listNamespacedService({ namespace });
      for (const svc of services.items.filter((s) => s.spec?.type === 'LoadBalancer')) {
        const name = svc.metadata!.name!;
        await c.core.patchNamespacedService(
          { name, namespace, body: { metadata: { annotations: { [LB_FAULT_ANNOTATION]: 'drop' } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        cut.push(`${cluster}/${name}`);
      }
    }
    // The node agents apply a fault on their next reconcile and say so.
    await waitFor(
      'every member load balancer dropping',
      () =>
        Promise.resolve(
          cut.every((c) => {
            const [cluster, name] = c.split('/') as [ClusterName, string];
            return agentLog(cluster).includes(`load balancer ${namespace}/${name} fault drop`);
          }),
        ),
      { timeoutMs: 30_000 },
    );
    apiserverStopped = true;
    await stopApiserver('target');
  } catch (err) {
    await restore().catch(() => undefined);
    throw err;
  }
  return { cut, lostAt: Date.now(), restore };
}
