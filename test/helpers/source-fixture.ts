/**
 * The source etcd of a scenario: a fixture holding the StatefulSet `etcd` and its headless Service
 * `etcd`, rendered for a member count. A fixture that lists its members in an args
 * `--initial-cluster=` flag (test/fixtures/args-etcd.yaml) renders with any count: `replicas` and
 * that flag (`etcd-0 .. etcd-<n-1>`, each URL as the first one with its ordinal) change; any other
 * fixture only with the count it holds.
 */
import type { KubernetesObject, V1StatefulSet } from '@kubernetes/client-node';
import path from 'node:path';
import { REPO_ROOT } from '../../sandbox/config.js';
import { loadManifests } from './kube.js';

export interface SourceFixture {
  /** The manifest file, relative to the repository root (or absolute). */
  file: string;
  /** Members of the source etcd: the StatefulSet's replicas. */
  replicas: number;
}

/** The article's 3-member etcd (sh -c script, etcd 3.4): the scenario's default. */
export const ARTICLE_FIXTURE: SourceFixture = { file: 'test/fixtures/article-etcd.yaml', replicas: 3 };

/** etcd 3.5 configured by args, `$(POD_NAME)` from the downward API; 5 members as written. */
export function argsFixture(replicas = 5): SourceFixture {
  return { file: 'test/fixtures/args-etcd.yaml', replicas };
}

const INITIAL_CLUSTER = '--initial-cluster=';

/** The fixture's objects in `namespace`, its StatefulSet at `fixture.replicas`. */
export function sourceManifests(fixture: SourceFixture, namespace: string): KubernetesObject[] {
  const file = path.resolve(REPO_ROOT, fixture.file);
  const objects = loadManifests(file, namespace);
  const sts = objects.find((o): o is V1StatefulSet & KubernetesObject => o.kind === 'StatefulSet');
  if (!sts?.spec) throw new Error(`${fixture.file}: no StatefulSet`);
  if (sts.spec.replicas === fixture.replicas) return objects;
  const name = sts.metadata!.name!;
  const args = sts.spec.template.spec?.containers.find((c) => c.name === 'etcd')?.args ?? [];
  const at = args.findIndex((a) => a.startsWith(INITIAL_CLUSTER));
  const first = at >= 0 ? /^([^=,]+)=([^,]+)/.exec(args[at]!.slice(INITIAL_CLUSTER.length)) : null;
  if (!first || first[1] !== `${name}-0` || !first[2]!.includes(`${name}-0.`)) {
    throw new Error(
      `${fixture.file} holds ${sts.spec.replicas} members and cannot be rendered with ${fixture.replicas}: ` +
        `its etcd container has no args ${INITIAL_CLUSTER}${name}-0=<url naming ${name}-0.>,...`,
    );
  }
  const url = first[2]!;
  const members = Array.from(
    { length: fixture.replicas },
    (_, i) => `${name}-${i}=${url.replace(`${name}-0.`, `${name}-${i}.`)}`,
  );
  args[at] = `${INITIAL_CLUSTER}${members.join(',')}`;
  sts.spec.replicas = fixture.replicas;
  return objects;
}
