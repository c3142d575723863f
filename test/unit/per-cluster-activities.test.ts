/**
 * What per-cluster workers hand each other and report: the source objects as history-safe JSON
 * that renders the same target as the live objects, the refusal of literal secret-looking env
 * values in them, and evidence that reports a member behind a load balancer honestly.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { SourceManifests } from '../../core/activity-contract.js';
import type { ClusterObservation, EndpointObservation } from '../../activities/etcd/types.js';
import {
  renderTargetHeadlessService,
  renderTargetStatefulSet,
} from '../../activities/kubernetes/render-target.js';
import { fromSourceManifests, toSourceManifests } from '../../activities/kubernetes/source-objects.js';
import { toEvidence } from '../../activities/migration/evidence.js';
import { literalSecretEnvRefusal } from '../../activities/migration/preflight-secrets.js';
import { makeSpec } from './fixtures/migration-spec.js';

const fixture = YAML.parseAllDocuments(fs.readFileSync('test/fixtures/article-etcd.yaml', 'utf8')).map(
  (d) => d.toJS() as { kind: string },
);
const articleSts = fixture.find((o) => o.kind === 'StatefulSet') as V1StatefulSet;
const articleSvc = fixture.find((o) => o.kind === 'Service') as V1Service;
const spec = makeSpec((s) => (s.workers = { mode: 'per-cluster' }));

/** The StatefulSet as the API returns it: server-side fields, a status and Date timestamps. */
function asRead(): V1StatefulSet {
  const sts = structuredClone(articleSts);
  sts.metadata = {
    ...sts.metadata,
    uid: 'b7c1',
    resourceVersion: '4711',
    creationTimestamp: new Date('2024-05-01T10:00:00Z'),
    managedFields: [{ manager: 'kubectl', operation: 'Apply', time: new Date('2024-05-01T10:00:00Z') }],
  };
  sts.status = { replicas: 3, readyReplicas: 3, currentRevision: 'etcd-5d4f' };
  return sts;
}

describe('source manifests: the source objects through the workflow history', () => {
  it('are plain JSON without status and managedFields', () => {
    const m = toSourceManifests(asRead(), articleSvc);
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    expect(m.statefulSet.status).toBeUndefined();
    expect((m.statefulSet.metadata as Record<string, unknown>).managedFields).toBeUndefined();
    expect((m.statefulSet.metadata as Record<string, unknown>).creationTimestamp).toBe(
      '2024-05-01T10:00:00.000Z',
    );
    expect(m.service).toEqual(JSON.parse(JSON.stringify(articleSvc)));
    expect(toSourceManifests(asRead(), undefined).service).toBeUndefined();
  });

  it('render exactly the target the live objects render', () => {
    const fromHistory = fromSourceManifests(
      JSON.parse(JSON.stringify(toSourceManifests(asRead(), articleSvc))) as SourceManifests,
    );
    const options = { replicas: 1, initialCluster: 'etcd-main-0=http://etcd-main-0.etcd-main:2380' };
    expect(renderTargetStatefulSet(fromHistory.statefulSet, spec, options)).toEqual(
      renderTargetStatefulSet(asRead(), spec, options),
    );
    expect(renderTargetHeadlessService(fromHistory.service, spec)).toEqual(
      renderTargetHeadlessService(articleSvc, spec),
    );
  });

  it('refuse literal secret-looking env values, naming each; references and file paths are fine', () => {
    const sts = structuredClone(articleSts);
    const podSpec = sts.spec!.template.spec!;
    expect(literalSecretEnvRefusal(spec, sts)).toBeUndefined();
    podSpec.containers[0]!.env = [
      { name: 'ETCD_ROOT_PASSWORD', value: 'hunter2' },
      { name: 'ETCD_KEY_FILE', value: '/etc/etcd/tls/tls.key' },
      { name: 'ETCD_TRUSTED_CA_FILE', value: '/etc/etcd/tls/ca.crt' },
      { name: 'Api_Token', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
      { name: 'ETCD_NAME', value: 'x' },
    ];
    podSpec.initContainers = [
      { name: 'init', image: 'busybox', env: [{ name: 'cloud_secret_key', value: 'k' }] },
    ];
    expect(literalSecretEnvRefusal(spec, sts)).toBe(
      'StatefulSet default/etcd sets secret-looking environment variables to literal values (init: cloud_secret_key, etcd: ETCD_ROOT_PASSWORD): ' +
        "in per-cluster mode the source pod template goes into the workflow's history for the target worker; take them from a Secret (valueFrom.secretKeyRef) first",
    );
  });
});

describe('evidence of members reached through a load balancer', () => {
  const endpoint = (name: string, reachable: boolean): EndpointObservation =>
    reachable
      ? {
          name,
          endpoint: `http://${name}:2379`,
          reachable,
          health: { name, endpoint: '', healthy: true, check: 'linearizable-read', tookMs: 1 },
        }
      : { name, endpoint: `http://${name}:2379`, reachable, error: 'connect ECONNREFUSED' };
  const member = (name: string, id: string, isLearner = false) => ({
    name,
    id,
    peerURLs: [],
    clientURLs: [],
    isLearner,
  });
  const obs: ClusterObservation = {
    observedAt: '2024-05-01T10:00:00Z',
    clusterId: '1',
    // etcd-main-1 was added as a learner and has not started: no name yet.
    members: [
      member('etcd-0', '1'),
      member('etcd-1', '2'),
      member('etcd-main-0', '3', true),
      member('', '4', true),
    ],
    endpoints: [
      endpoint('etcd-0', true),
      endpoint('etcd-1', false),
      endpoint('etcd-main-0', true),
      endpoint('etcd-main-1', false),
      endpoint('etcd-main-2', false),
    ],
    leaderId: '1',
    alarms: [],
    unobservedMemberIds: ['2', '4'],
  };

  it('a member that does not answer is unhealthy; an address that is no member yet is left out', () => {
    // The source worker: the target's members through their load balancers.
    expect(toEvidence(spec, obs, undefined, ['source']).health).toEqual({
      'etcd-0': true,
      'etcd-1': false,
      'etcd-main-0': true,
    });
    // The target worker: the unreachable source member is reported unhealthy all the same.
    expect(toEvidence(spec, obs, undefined, ['target']).health).toEqual({
      'etcd-0': true,
      'etcd-1': false,
      'etcd-main-0': true,
      'etcd-main-1': false,
      'etcd-main-2': false,
    });
  });

  it('single mode (pod IPs on both sides) reports every endpoint, as before', () => {
    expect(Object.keys(toEvidence(spec, obs).health)).toEqual([
      'etcd-0',
      'etcd-1',
      'etcd-main-0',
      'etcd-main-1',
      'etcd-main-2',
    ]);
  });
});
