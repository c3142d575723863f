/**
 * Which worker this process is, from the environment. `single` (the default): one Temporal
 * worker on the workflow task queue with the workflows and every activity, reaching every cluster
 * through KUBECONFIG. `per-cluster` (ETCD_STRETCH_CLUSTER=<context>): the worker of one cluster,
 * two Temporal workers on one connection: the workflows on the workflow task queue, and the
 * activities on that cluster's own queue (`etcd-stretch-<context>`), reaching that cluster only.
 */
import { clusterTaskQueue } from '../core/routing/task-queues.js';
import { kubeconfigFromEnvironment } from '../activities/migration/kubeconfig.js';

export type WorkerMode =
  | { mode: 'single'; taskQueue: string }
  | {
      mode: 'per-cluster';
      /** The kubeconfig context the specs name this cluster by (ETCD_STRETCH_CLUSTER). */
      cluster: string;
      /** The workflows only (ETCD_STRETCH_TASK_QUEUE). */
      taskQueue: string;
      /** The activities only (ETCD_STRETCH_ACTIVITY_TASK_QUEUE, default etcd-stretch-<cluster>). */
      activityTaskQueue: string;
    };

/** `taskQueue`: the workflow task queue (worker/temporal-connection.ts, ETCD_STRETCH_TASK_QUEUE). */
export function workerModeFromEnvironment(
  taskQueue: string,
  env: NodeJS.ProcessEnv = process.env,
): WorkerMode {
  const cluster = env.ETCD_STRETCH_CLUSTER;
  const activityQueue = env.ETCD_STRETCH_ACTIVITY_TASK_QUEUE;
  if (cluster === undefined || cluster === '') {
    if (activityQueue) {
      throw new Error(
        'ETCD_STRETCH_ACTIVITY_TASK_QUEUE is for a per-cluster worker: set ETCD_STRETCH_CLUSTER too, or unset it',
      );
    }
    return { mode: 'single', taskQueue };
  }
  if (cluster.trim() !== cluster) {
    throw new Error(
      `ETCD_STRETCH_CLUSTER="${cluster}" has surrounding spaces: name the kubeconfig context exactly`,
    );
  }
  const activityTaskQueue = activityQueue || clusterTaskQueue(cluster);
  if (activityTaskQueue === taskQueue) {
    throw new Error(
      `the activity task queue of cluster "${cluster}" is the workflow task queue ${taskQueue}: a per-cluster worker polls a queue of its own (default ${clusterTaskQueue(cluster)})`,
    );
  }
  return { mode: 'per-cluster', cluster, taskQueue, activityTaskQueue };
}

/**
 * The kubeconfig file the activities use: KUBECONFIG (or ~/.kube/config) in single mode; in
 * per-cluster mode KUBECONFIG if set (it must have the cluster's context), otherwise none: the
 * Pod's ServiceAccount (activities/kubernetes/own-cluster.ts).
 */
export function workerKubeconfig(mode: WorkerMode, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (mode.mode === 'per-cluster' && !env.KUBECONFIG) return undefined;
  return kubeconfigFromEnvironment(env);
}
