/**
 * Which worker runs each activity. Single mode: the workflow's own task queue, as always.
 * Per-cluster mode (`workers.mode`): the worker of the cluster the activity touches, and what it
 * needs from the other cluster travels in its input: the members' load-balancer addresses for
 * etcd calls, the source objects for everything that renders or checks the target.
 */
import type { MigrationActivities, Side, SourceManifests, SpecInput } from '../core/activity-contract.js';
import { taskQueueOf } from '../core/routing/task-queues.js';
import type { MigrationSpec } from '../core/spec/schema.js';
import { activitiesFor, type ActivityDeadlines, type WorkflowActivities } from './activity-options.js';
import { activitySummary, type SummaryInput } from './activity-summary.js';

/** What routing reads from the run at call time. */
export interface RoutingState {
  addresses(): Record<Side, Record<string, string>>;
  sourceManifests(): SourceManifests | undefined;
  clientsSwitched(): boolean;
  /** Clusters that did not answer an undo (the rollback): their Kubernetes calls get one attempt. */
  notAnswering?(): ReadonlySet<Side>;
  /** A plan step's title by its id (for the activity summaries the Web UI shows). */
  stepTitle?(id: string): string | undefined;
}

type ActivityName = keyof MigrationActivities;
type Call = (input: unknown) => Promise<unknown>;
type CallWithOptions = {
  executeWithOptions(options: { summary: string }, args: [unknown]): Promise<unknown>;
};

/** How long a call to a cluster that did not answer waits for its worker to pick it up. */
const UNANSWERED_PICKUP_MS = 10_000;

/**
 * - a side: always that cluster's worker;
 * - `input`: the cluster the input names (`side`);
 * - `etcd`: membership and observation go through a voter the worker reaches by pod IP: the
 *   source's until the clients switch (the leader has moved to the target by then), the
 *   target's after. Either worker reaches the other side's members through their load balancers.
 */
type Route = Side | 'input' | 'etcd';

const ROUTES: Record<Exclude<ActivityName, 'preflight'>, Route> = {
  observe: 'etcd',
  compact: 'source',
  rollingDefragment: 'source',
  ensureHeadlessService: 'input',
  deleteHeadlessService: 'input',
  ensureMemberServices: 'input',
  deleteMemberServices: 'input',
  awaitLoadBalancers: 'input',
  issueCertificates: 'target',
  deleteIssuedCertificates: 'target',
  configureDns: 'input',
  removeDns: 'input',
  awaitDnsResolution: 'input',
  addLearner: 'etcd',
  removeLearner: 'etcd',
  scaleTarget: 'target',
  shrinkTarget: 'target',
  awaitCatchUp: 'target',
  promote: 'etcd',
  moveLeader: 'etcd',
  verifyConsistency: 'etcd',
  hashKvOnSide: 'input',
  removeMember: 'etcd',
  scaleSource: 'source',
  finalizeTarget: 'target',
  cleanupSourceStatefulSet: 'source',
  cleanupSourcePvcs: 'source',
};

/** Activities that talk to etcd: they get every member's load-balancer address. */
const TALKS_TO_ETCD = new Set<ActivityName>([
  'observe',
  'compact',
  'rollingDefragment',
  'addLearner',
  'removeLearner',
  'awaitCatchUp',
  'promote',
  'moveLeader',
  'verifyConsistency',
  'hashKvOnSide',
  'removeMember',
]);

/** Target-side activities that render target objects from the source's: they get sourceManifests. */
const RENDERS_FROM_SOURCE = new Set<ActivityName>(['ensureHeadlessService', 'scaleTarget']);

export type RoutedActivities = WorkflowActivities & {
  /** Each cluster's worker directly (preflight runs a part on each). Both the same in single mode. */
  onSide: Record<Side, WorkflowActivities>;
};

export function routedActivities(
  spec: MigrationSpec,
  deadlines: ActivityDeadlines,
  state: RoutingState,
): RoutedActivities {
  const sourceQueue = taskQueueOf(spec, 'source');
  const targetQueue = taskQueueOf(spec, 'target');
  // A call to a cluster that did not answer goes through the same proxies with one attempt.
  const once = (side: Side, name: ActivityName) =>
    ROUTES[name as keyof typeof ROUTES] !== 'etcd' && (state.notAnswering?.().has(side) ?? false);
  if (sourceQueue === undefined || targetQueue === undefined) {
    const acts = activitiesFor(deadlines);
    const onceActs = activitiesFor(deadlines, undefined, { kubernetesOnce: true });
    const single: Record<string, unknown> = {};
    for (const name of Object.keys(ROUTES) as (keyof typeof ROUTES)[]) {
      single[name] = (input: SpecInput & { side?: Side }) => {
        const side = sideFor(ROUTES[name], input, state);
        return summarised(name, (once(side, name) ? onceActs : acts)[name], side, input, state);
      };
    }
    const both = withSummaries(acts, undefined, state);
    return { ...both, ...(single as WorkflowActivities), onSide: { source: both, target: both } };
  }
  const proxiesOnSide: Record<Side, WorkflowActivities> = {
    source: activitiesFor(deadlines, sourceQueue),
    target: activitiesFor(deadlines, targetQueue),
  };
  // An undo's Kubernetes calls wait for their cluster's worker at most deadlines.step: a cluster
  // that is lost takes its worker with it, and the rollback goes on without them (endings.ts).
  const pickup = (kubernetesPickupMs: number, kubernetesOnce = false) => ({
    source: activitiesFor(deadlines, sourceQueue, { kubernetesPickupMs, kubernetesOnce }),
    target: activitiesFor(deadlines, targetQueue, { kubernetesPickupMs, kubernetesOnce }),
  });
  const undoOnSide = pickup(deadlines.stepMs);
  const onceOnSide = pickup(Math.min(deadlines.stepMs, UNANSWERED_PICKUP_MS), true);
  const routed: Record<string, unknown> = {
    preflight: (input: unknown) =>
      summarised('preflight', proxiesOnSide.source.preflight, 'source', input, state),
  };
  for (const name of Object.keys(ROUTES) as (keyof typeof ROUTES)[]) {
    routed[name] = (input: SpecInput & { side?: Side }) => {
      const side = sideFor(ROUTES[name], input, state);
      const proxies = once(side, name) ? onceOnSide : input.undoes !== undefined ? undoOnSide : proxiesOnSide;
      return summarised(name, proxies[side][name], side, withCrossingData(name, side, input, state), state);
    };
  }
  const onSide: Record<Side, WorkflowActivities> = {
    source: withSummaries(proxiesOnSide.source, 'source', state),
    target: withSummaries(proxiesOnSide.target, 'target', state),
  };
  return { ...(routed as WorkflowActivities), onSide };
}

/** Calls `proxy` with the summary the Web UI shows for it (activity-summary.ts). */
function summarised(
  name: string,
  proxy: unknown,
  side: Side | undefined,
  input: unknown,
  state: RoutingState,
) {
  const summary = activitySummary(name, input as SummaryInput, side, (id) => state.stepTitle?.(id));
  return (proxy as CallWithOptions).executeWithOptions({ summary }, [input]);
}

/** Every activity of `acts`, called with its summary. */
function withSummaries(
  acts: WorkflowActivities,
  side: Side | undefined,
  state: RoutingState,
): WorkflowActivities {
  const out: Record<string, Call> = {};
  for (const name of Object.keys(acts))
    out[name] = (input) => summarised(name, acts[name as ActivityName], side, input, state);
  return out as unknown as WorkflowActivities;
}

function sideFor(route: Route, input: { side?: Side }, state: RoutingState): Side {
  if (route === 'etcd') return state.clientsSwitched() ? 'target' : 'source';
  if (route === 'input') return input.side ?? 'target';
  return route;
}

function withCrossingData(name: ActivityName, side: Side, input: SpecInput, state: RoutingState): SpecInput {
  if (TALKS_TO_ETCD.has(name)) return { ...input, memberAddresses: state.addresses() };
  const manifests = state.sourceManifests();
  if (side === 'target' && manifests && RENDERS_FROM_SOURCE.has(name))
    return { ...input, sourceManifests: manifests };
  return input;
}
