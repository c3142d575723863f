/**
 * The source objects the target is rendered and checked from: the source StatefulSet and its
 * headless Service. A single worker reads them from the source cluster when it needs them; a
 * per-cluster target worker cannot, and gets them in its input instead (`sourceManifests`, read by
 * the source worker in preflight and kept in the workflow's history).
 */
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { SourceManifests } from '../../core/activity-contract.js';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { sideOf, type KubeEnv } from './clients.js';
import { readServiceOptional, readStatefulSet } from './discover-source.js';

export interface SourceObjects {
  /** The source StatefulSet; read live, a missing one is NotFound. */
  statefulSet(): Promise<V1StatefulSet>;
  service(): Promise<V1Service | undefined>;
}

/**
 * The source objects from `manifests` when given (no access to the source cluster at all),
 * else read from the source cluster, each when asked for.
 */
export function sourceObjectsOf(
  env: KubeEnv,
  spec: MigrationSpec,
  manifests?: SourceManifests,
): SourceObjects {
  if (manifests) {
    const objects = fromSourceManifests(manifests);
    return {
      statefulSet: () => Promise.resolve(objects.statefulSet),
      service: () => Promise.resolve(objects.service),
    };
  }
  return {
    statefulSet: () => readStatefulSet(sideOf(env, spec, 'source'), spec.source.statefulSet),
    service: () => readServiceOptional(sideOf(env, spec, 'source'), spec.source.service),
  };
}

/** An object as JSON, without what the API server keeps about it (status, managedFields). */
function configurationOf(obj: object): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(obj)) as Record<string, unknown> & {
    metadata?: Record<string, unknown>;
  };
  delete json.status;
  if (json.metadata) delete json.metadata.managedFields;
  return json;
}

/** The source objects as plain JSON for the workflow's history (SourceManifests). */
export function toSourceManifests(
  statefulSet: V1StatefulSet,
  service: V1Service | undefined,
): SourceManifests {
  return {
    statefulSet: configurationOf(statefulSet),
    ...(service ? { service: configurationOf(service) } : {}),
  };
}

/**
 * The objects of `toSourceManifests`. The JSON keys are the client's property names for these
 * kinds; timestamps stay strings, which nothing that renders or checks the target reads.
 */
export function fromSourceManifests(manifests: SourceManifests): {
  statefulSet: V1StatefulSet;
  service?: V1Service;
} {
  return {
    statefulSet: structuredClone(manifests.statefulSet),
    ...(manifests.service ? { service: structuredClone(manifests.service) } : {}),
  };
}
