/**
 * The JSON Schema of the migration spec (input side: defaults are optional), generated from the
 * zod schema so the two cannot drift. `scripts/export-spec-schema.ts` writes it to
 * `schema/migration-spec.schema.json`; a unit test checks that the committed file is current.
 */
import { z } from 'zod';
import { migrationSpecSchema } from './schema.js';

export const MIGRATION_SPEC_SCHEMA_PATH = 'schema/migration-spec.schema.json';

export function migrationSpecJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(migrationSpecSchema, { io: 'input', target: 'draft-2020-12' });
  return {
    $schema,
    title: 'etcd-stretch migration spec',
    description:
      'Moves a live etcd StatefulSet from one Kubernetes cluster to another by stretching it over both (kind: EtcdMigration, version: 1). References only: no secret values.',
    ...rest,
  };
}
