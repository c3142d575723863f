/**
 * Preflight: everything a migration needs, checked before anything changes, read-only in both
 * clusters. Each problem is one refusal naming the object or spec field; the workflow stops on any.
 *
 * Two parts, one per cluster, so that a per-cluster worker runs the part of its own cluster
 * (`PreflightInput.part`): the source part checks the source cluster and the source etcd and
 * hands on the source objects (`sourceManifests`); the target part checks the target cluster,
 * renders the target from those objects, merges the two reports and makes the plan. A single
 * worker (no `part`) runs both parts in one process.
 *
 * Order: the contexts and their API servers first (without them nothing else can be checked,
 * and a missing context or an unreachable API server is the operator's input to fix, not a
 * transient failure to retry), then the Kubernetes preconditions, the Secrets the spec names,
 * the ports, then the source etcd itself: its members and health, its version against the
 * target image's, and that every healthy member holds the same data (hashKV at one revision).
 */
import {
  ApiException,
  VersionApi,
  type V1Container,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { withConnection } from '../etcd/connection.js';
import { observeCluster } from '../etcd/observe.js';
import type { ClusterObservation, EndpointObservation, MemberInfo } from '../etcd/types.js';
import type { ClientsForContext, KubeEnv } from '../kubernetes/clients.js';
import { resolveRunContext, sleep } from '../run-context.js';
import type { SecretResolver } from '../secret-ref.js';
import { findFlag } from '../kubernetes/etcd-flags.js';
import { PreconditionFailed } from '../kubernetes/errors.js';
import { CLIENT_PORT, PEER_PORT } from '../kubernetes/member-services.js';
import { findEtcdContainer } from '../kubernetes/render-target.js';
import { fromSourceManifests, toSourceManifests } from '../kubernetes/source-objects.js';
import { validateSourcePreconditions, validateTargetPreconditions } from '../kubernetes/validate-target.js';
import type { PreflightInput, PreflightReport, Side } from '../../core/activity-contract.js';
import { sidesServedBy } from '../../core/routing/task-queues.js';
import type { ObservedMember } from '../../core/planner/plan-types.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { dnsCollisions } from './dns-collisions.js';
import { etcdAccess } from './etcd-access.js';
import { toEvidence } from './evidence.js';
import { withPlan } from './plan-once.js';
import { unfinishedForwardOf } from './unfinished-forward.js';
import {
  etcdAccessSecretChecks,
  literalSecretEnvRefusal,
  secretReferenceRefusals,
  targetSecretChecks,
} from './preflight-secrets.js';
import { minorVersion, preVoteWarning, sourceHashKvCheck, targetVersionCheck } from './source-etcd-checks.js';

/** How long one probe of an API server may take, and how often it is tried before refusing. */
const API_PROBE_TIMEOUT_MS = 10_000;
const API_PROBE_ATTEMPTS = 3;

export interface PreflightDeps {
  clients: ClientsForContext;
  secrets: SecretResolver;
  /** The kubeconfig context this worker serves (per-cluster); absent: every context. */
  cluster?: string;
}

type SourceObjects = { statefulSet?: V1StatefulSet; service?: V1Service };

/** The source part's report, with the source objects it read (in memory; in history as manifests). */
interface SourcePart {
  report: PreflightReport;
  objects: SourceObjects;
}

const NOTHING_OBSERVED = { warnings: [], observed: { members: [] }, sourceReplicas: 0 };

/**
 * The preflight activity: the `part` of a per-cluster worker, or both parts (single mode). The
 * report of the target part and of a single worker carries the plan when nothing was refused.
 */
export async function preflight(deps: PreflightDeps, input: PreflightInput): Promise<PreflightReport> {
  const { spec } = input;
  if (input.part === 'source') {
    const unreachable = await clusterAccessRefusals(deps.clients, spec, ['source']);
    if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
    return (await sourcePart(deps, spec, { forHistory: true })).report;
  }
  if (input.part === 'target') {
    const sourceReport = input.sourceReport;
    if (!sourceReport) {
      throw new PreconditionFailed(
        "preflight part target needs the source part's report (sourceReport): run part source on the source cluster's worker first",
      );
    }
    const unreachable = await clusterAccessRefusals(deps.clients, spec, ['target']);
    const target: Pick<PreflightReport, 'refusals' | 'warnings'> =
      unreachable.length > 0
        ? { refusals: unreachable, warnings: [] }
        : await targetPart(
            deps,
            spec,
            Promise.resolve(
              sourceReport.sourceManifests ? fromSourceManifests(sourceReport.sourceManifests) : {},
            ),
            () => Promise.resolve(sourceReport),
          );
    return withPlan(spec, merged(sourceReport, target));
  }
  const unreachable = await clusterAccessRefusals(deps.clients, spec, ['source', 'target']);
  if (unreachable.length > 0) return { ...NOTHING_OBSERVED, refusals: unreachable };
  let objectsRead!: (objects: SourceObjects) => void;
  const objects = new Promise<SourceObjects>((resolve) => (objectsRead = resolve));
  // The target's Kubernetes checks need only the source's objects: they run while the source
  // etcd is observed.
  const source = sourcePart(deps, spec, { forHistory: false, onObjects: objectsRead });
  const [{ report }, target] = await Promise.all([
    source,
    targetPart(deps, spec, objects, () => source.then((s) => s.report)),
  ]);
  return withPlan(spec, merged(report, target));
}

function merged(
  source: PreflightReport,
  target: Pick<PreflightReport, 'refusals' | 'warnings'>,
): PreflightReport {
  return {
    ...source,
    refusals: [...source.refusals, ...target.refusals],
    warnings: [...source.warnings, ...target.warnings],
  };
}

/**
 * The source cluster and the source etcd: the source half of the Kubernetes preconditions, the
 * Secrets this worker reads to reach etcd, the ports, the members, their health, versions and
 * data, and the source cluster's DNS. `forHistory`: the report carries the source objects
 * (`sourceManifests`) and refuses secret-looking literal values in them.
 */
async function sourcePart(
  deps: PreflightDeps,
  spec: MigrationSpec,
  options: { forHistory: boolean; onObjects?: (objects: SourceObjects) => void },
): Promise<SourcePart> {
  const e: KubeEnv = { clients: deps.clients, rc: resolveRunContext() };
  const report = await validateSourcePreconditions(e, { spec });
  const refusals = report.refusals.map((r) => r.message);
  const warnings = [...report.warnings];
  const secrets = await secretReferenceRefusals(e, spec, etcdAccessSecretChecks(spec, deps.cluster));
  refusals.push(...secrets.refusals);
  const { statefulSet: sts, service: svc } = report;
  const objects = { ...(sts ? { statefulSet: sts } : {}), ...(svc ? { service: svc } : {}) };
  options.onObjects?.(objects);
  const portProblems = sts ? sourcePortRefusals(spec, sts, svc) : [];
  const sourceEtcd = sts ? etcdContainerOf(sts) : undefined;
  refusals.push(...portProblems);
  let sourceManifests: PreflightReport['sourceManifests'];
  if (options.forHistory && sts) {
    const literal = literalSecretEnvRefusal(spec, sts);
    if (literal) refusals.push(literal);
    else sourceManifests = toSourceManifests(sts, svc);
  }
  const empty: PreflightReport = {
    refusals,
    warnings,
    observed: { members: [] },
    sourceReplicas: report.sourceReplicas ?? 0,
    ...(sourceManifests ? { sourceManifests } : {}),
  };
  const done = (r: PreflightReport): SourcePart => ({ report: r, objects });
  if (!sts) return done(empty);
  // Without the operator's certificate or the etcd user, observing would only fail confusingly.
  if (secrets.etcdAccessBroken) return done(empty);
  const access = await etcdAccess(e, spec, { cluster: deps.cluster, sides: ['source'] });
  if (Object.keys(access.endpoints).length === 0) {
    return done({
      ...empty,
      refusals: [
        ...refusals,
        `no running pod of StatefulSet ${spec.source.namespace}/${spec.source.statefulSet} has an IP to reach etcd through`,
      ],
    });
  }
  let obs: ClusterObservation;
  try {
    obs = await withConnection(access, deps.secrets, observeCluster);
  } catch (err) {
    return done({
      ...empty,
      refusals: [
        ...refusals,
        `cannot observe the source etcd: ${err instanceof Error ? err.message : String(err)}`,
      ],
    });
  }
  let unfinishedForward: PreflightReport['unfinishedForward'];
  try {
    const found = unfinishedForwardOf(spec, sts, obs);
    if (found) {
      ({ observation: obs, forward: unfinishedForward } = found);
      warnings.push(found.warning);
    }
  } catch (err) {
    refusals.push(err instanceof Error ? err.message : String(err));
  }
  refusals.push(...observationRefusals(obs));
  refusals.push(...etcdVersionRefusals(obs.endpoints));
  const targetImage = spec.target.image ?? sourceEtcd?.image;
  if (targetImage) {
    const versions = targetVersionCheck(targetImage, obs.endpoints);
    refusals.push(...versions.refusals);
    warnings.push(...versions.warnings);
  }
  const preVote = preVoteWarning(sourceEtcd, obs.endpoints);
  if (preVote) warnings.push(preVote);
  const consistency = await sourceHashKvCheck(access, deps.secrets, obs);
  refusals.push(...consistency.refusals);
  if (portProblems.length === 0) refusals.push(...memberUrlRefusals(obs.members));
  refusals.push(...(await dnsCollisions(e, spec, obs.members.length, ['source'])));
  return done({
    ...empty,
    refusals,
    warnings,
    observed: { members: observedMembers(obs) },
    sourceReplicas: report.sourceReplicas ?? obs.members.length,
    evidence: toEvidence(spec, obs, consistency.hash, sidesServedBy(spec, deps.cluster)),
    ...(unfinishedForward ? { unfinishedForward } : {}),
  });
}

/**
 * The target cluster: the target half of the Kubernetes preconditions (rendered from the source
 * part's objects), the Secrets the new members need, the Secrets this worker reads to reach etcd
 * when it is a target-only worker (it talks to etcd after the client switch), and the target
 * cluster's DNS (when the source part observed the members it would resolve).
 */
async function targetPart(
  deps: PreflightDeps,
  spec: MigrationSpec,
  sourceObjects: Promise<SourceObjects>,
  // A function, not a promise: a source part that fails is the caller's to report, not an
  // unhandled rejection while this one still waits for the objects.
  sourceReport: () => Promise<PreflightReport>,
): Promise<Pick<PreflightReport, 'refusals' | 'warnings'>> {
  const e: KubeEnv = { clients: deps.clients, rc: resolveRunContext() };
  // The Kubernetes preconditions and Secrets need the source's objects only.
  const report = await validateTargetPreconditions(e, { spec }, await sourceObjects);
  const refusals = report.refusals.map((r) => r.message);
  const checks = targetSecretChecks(spec);
  // A worker that serves the source too checked those in the source part.
  if (!sidesServedBy(spec, deps.cluster).includes('source'))
    checks.push(...etcdAccessSecretChecks(spec, deps.cluster));
  refusals.push(...(await secretReferenceRefusals(e, spec, checks)).refusals);
  // The DNS, once the source part observed the members it would resolve.
  const source = await sourceReport();
  if (source.evidence) {
    refusals.push(...(await dnsCollisions(e, spec, source.observed.members.length, ['target'])));
  }
  return { refusals, warnings: report.warnings };
}

/** etcd shows member IDs in hex (`etcdctl member list`); the API gives them in decimal. */
export function hexId(id: string): string {
  try {
    return BigInt(id).toString(16);
  } catch {
    return id;
  }
}

/** Members, health and alarms of the source etcd: one refusal per problem. */
export function observationRefusals(obs: ClusterObservation): string[] {
  const refusals: string[] = [];
  const unstarted = new Set<string>();
  for (const m of obs.members) {
    const id = hexId(m.id);
    if (!m.name) {
      unstarted.add(m.id);
      refusals.push(
        `etcd member ${id} (${m.isLearner ? 'learner' : 'voter'}, peer URLs ${m.peerURLs.join(', ') || 'none'}) was added but never started: ` +
          `a membership change is unfinished; remove it first (etcdctl member remove ${id})`,
      );
    } else if (m.isLearner) {
      refusals.push(
        `etcd member ${m.name} (${id}) is a learner: finish that membership change (promote it) or remove it first`,
      );
    }
  }
  const unhealthy = new Set<string>();
  for (const ep of obs.endpoints) {
    if (!ep.reachable || !ep.health?.healthy) {
      unhealthy.add(ep.name);
      refusals.push(
        `etcd member ${ep.name} (${ep.endpoint}) is not healthy: ${ep.error ?? ep.health?.error ?? 'no answer'}; every member must be healthy before the migration`,
      );
    }
  }
  for (const a of obs.alarms) {
    refusals.push(
      `etcd alarm ${a.alarm} is raised on member ${memberLabel(obs, a.memberId)}: ${
        a.alarm === 'NOSPACE'
          ? 'the cluster refuses writes; free space (compact, defragment) and disarm it (etcdctl alarm disarm) first'
          : 'resolve it and disarm it (etcdctl alarm disarm) first'
      }`,
    );
  }
  for (const id of obs.unobservedMemberIds) {
    if (unstarted.has(id)) continue;
    const name = obs.members.find((m) => m.id === id)?.name;
    if (name && unhealthy.has(name)) continue;
    refusals.push(
      `etcd member ${name ? `${name} (${hexId(id)})` : hexId(id)} has no running pod of the source StatefulSet the worker can reach`,
    );
  }
  return refusals;
}

function memberLabel(obs: ClusterObservation, id: string): string {
  const name = obs.members.find((m) => m.id === id)?.name;
  return name ? `${name} (${hexId(id)})` : hexId(id);
}

/** Learners (which the new members join as) need etcd >= 3.4 on every member. */
export function etcdVersionRefusals(endpoints: readonly EndpointObservation[]): string[] {
  const refusals: string[] = [];
  for (const ep of endpoints) {
    const version = ep.status?.version;
    const [major, minor] = minorVersion(version ?? '') ?? [];
    if (major === undefined || minor === undefined) continue;
    if (major < 3 || (major === 3 && minor < 4)) {
      refusals.push(
        `etcd member ${ep.name} runs etcd ${version}: the new members join as learners, which needs etcd >= 3.4 on every member; upgrade the source cluster first`,
      );
    }
  }
  return refusals;
}

/** The source's etcd container, or undefined (validateMigrationPreconditions refuses that already). */
function etcdContainerOf(sts: V1StatefulSet): V1Container | undefined {
  try {
    return findEtcdContainer(sts.spec?.template.spec).container;
  } catch {
    return undefined;
  }
}

/** The port of each URL of a comma-separated list (`http://$HOSTNAME.etcd:2380,...`), where given. */
export function urlPorts(list: string): number[] {
  return list
    .split(',')
    .map((u) => /:(\d+)\/?$/.exec(u.trim())?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
}

const PORT_FLAGS = {
  peer: ['listen-peer-urls', 'initial-advertise-peer-urls'],
  client: ['listen-client-urls', 'advertise-client-urls'],
} as const;

/**
 * The member load balancers and the worker use the peer port 2380 and the client port 2379; the
 * target's headless Service copies the source's ports. Each must match what the source pods run.
 */
export function sourcePortRefusals(
  spec: MigrationSpec,
  sts: V1StatefulSet,
  svc: V1Service | undefined,
): string[] {
  const podSpec = sts.spec?.template.spec;
  const container = etcdContainerOf(sts);
  if (!container) return [];
  const where = `StatefulSet ${spec.source.namespace}/${spec.source.statefulSet}`;
  const refusals: string[] = [];
  const listening = new Set<number>();
  for (const [kind, wanted] of [
    ['peer', PEER_PORT],
    ['client', CLIENT_PORT],
  ] as const) {
    let seen = false;
    for (const flag of PORT_FLAGS[kind]) {
      for (const found of findFlag(container, flag)) {
        const ports = urlPorts(found.value);
        if (flag.startsWith('listen-')) ports.forEach((p) => listening.add(p));
        if (ports.length > 0) seen = true;
        // Peer URLs must all use it; client URLs must include it (more client URLs are fine).
        const bad =
          kind === 'peer' ? ports.some((p) => p !== wanted) : ports.length > 0 && !ports.includes(wanted);
        if (bad) {
          refusals.push(
            `${where}: --${flag} uses port ${ports.join(', ')}, but the migration reaches the ${kind} port of every member on ${wanted} (member load balancers, new members): etcd must use ${wanted} for ${kind} traffic`,
          );
        }
      }
    }
    if (!seen) listening.add(wanted); // etcd's default
  }
  for (const flag of ['listen-metrics-urls']) {
    for (const found of findFlag(container, flag)) urlPorts(found.value).forEach((p) => listening.add(p));
  }
  const named = new Map<string, number>();
  for (const c of [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.name) named.set(p.name, p.containerPort);
      if (c === container) listening.add(p.containerPort);
    }
  }
  for (const p of svc?.spec?.ports ?? []) {
    const label = `source Service ${spec.source.namespace}/${spec.source.service} port ${p.name ? `"${p.name}" ` : ''}(${p.port})`;
    const target = p.targetPort ?? p.port;
    const resolved = typeof target === 'string' && !/^\d+$/.test(target) ? named.get(target) : Number(target);
    if (resolved === undefined) {
      refusals.push(
        `${label} targets the named port "${String(target)}", which no container of ${where} declares`,
      );
    } else if (!listening.has(resolved)) {
      refusals.push(
        `${label} targets port ${resolved}, but the pods of ${where} serve etcd on ${[...listening].sort((a, b) => a - b).join(', ')}: the Service's ports must match the pods (the target's headless Service copies them)`,
      );
    }
  }
  return refusals;
}

/** What etcd itself advertises must use the ports the migration connects through. */
export function memberUrlRefusals(members: readonly MemberInfo[]): string[] {
  const refusals: string[] = [];
  for (const m of members) {
    if (!m.name) continue; // reported as unstarted
    const peer = m.peerURLs.flatMap((u) => urlPorts(u)).filter((p) => p !== PEER_PORT);
    if (peer.length > 0)
      refusals.push(
        `etcd member ${m.name} advertises peer URLs ${m.peerURLs.join(', ')}: the migration connects members on peer port ${PEER_PORT} only`,
      );
    const client = m.clientURLs.flatMap((u) => urlPorts(u));
    if (client.length > 0 && !client.includes(CLIENT_PORT))
      refusals.push(
        `etcd member ${m.name} advertises client URLs ${m.clientURLs.join(', ')}: the migration reaches members on client port ${CLIENT_PORT}`,
      );
  }
  return refusals;
}

/**
 * The context of each of `sides` must be in the worker's kubeconfig and its API server must answer.
 * Probes `GET /version` (readable by any client), a few times, so that a blip is not a refusal.
 */
export async function clusterAccessRefusals(
  clients: ClientsForContext,
  spec: MigrationSpec,
  sides: readonly Side[],
): Promise<string[]> {
  const probed = new Map<string, Promise<string | undefined>>();
  // Every cluster is probed at once; the refusals keep the order of `sides`.
  const problems = sides.map((side): Promise<string | undefined> => {
    const context = spec[side].context;
    let kc;
    try {
      kc = clients(context).kc;
    } catch (err) {
      return Promise.resolve(err instanceof Error ? err.message : String(err));
    }
    let problem = probed.get(context);
    if (!problem) {
      problem = apiServerProblem(kc.makeApiClient(VersionApi), kc.getCurrentCluster()?.server ?? '?');
      probed.set(context, problem);
    }
    return problem;
  });
  const found = await Promise.all(problems);
  return sides.flatMap((side, i) =>
    found[i] ? [`${side}.context "${spec[side].context}": ${found[i]}`] : [],
  );
}

function networkCodeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

async function apiServerProblem(api: VersionApi, server: string): Promise<string | undefined> {
  let last = '';
  for (let attempt = 1; attempt <= API_PROBE_ATTEMPTS; attempt++) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        api.getCode(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${API_PROBE_TIMEOUT_MS / 1000} s`)),
            API_PROBE_TIMEOUT_MS,
          );
        }),
      ]);
      return undefined;
    } catch (err) {
      if (err instanceof ApiException) {
        const code = (err as ApiException<unknown>).code;
        if (code === 401)
          return `the API server ${server} does not accept the worker's credentials (401): check the kubeconfig user of this context`;
        return undefined; // it answered
      }
      const code = networkCodeOf(err);
      const message = err instanceof Error ? err.message : String(err);
      last = code && !message.includes(code) ? `${code}: ${message}` : message;
    } finally {
      clearTimeout(timer);
    }
    if (attempt < API_PROBE_ATTEMPTS) await sleep(500 * attempt);
  }
  return `cannot reach the API server ${server} (${last}; tried ${API_PROBE_ATTEMPTS} times): check the context's server address and the network`;
}

/** The members as the planner reads them (the observation's other fields stay in the evidence). */
export function observedMembers(obs: ClusterObservation): ObservedMember[] {
  return obs.members.map((m) => ({ name: m.name, id: m.id, peerURLs: m.peerURLs, isLearner: m.isLearner }));
}
