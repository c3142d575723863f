/**
 * The secured source etcds of the TLS migration, one per way of writing etcd's peer SAN-check
 * setting (the README tells old members behind source-rewriting load balancers to set it):
 *
 * - `args`: test/fixtures/tls-args-etcd.yaml, etcd configured by arguments, the setting a bare
 *   `--experimental-peer-skip-client-san-verification` among them;
 * - `script`: test/fixtures/tls-etcd.yaml (an `sh -c` script, TLS files in `ETCD_*` variables),
 *   the setting a bare flag on a line of the script;
 * - `env`: the same fixture with the setting as `ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION`.
 *
 * Each at any etcd minor version the sandbox runs, by the experimental name (3.4 to 3.6 have it).
 * Pure: reads the fixture files only.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KubernetesObject, V1Container, V1StatefulSet } from '@kubernetes/client-node';
import YAML from 'yaml';
import { REPO_ROOT } from '../../sandbox/config.js';

export type SkipSanStyle = 'args' | 'script' | 'env';
export type EtcdMinor = '3.4' | '3.5' | '3.6';

export const ETCD_IMAGES: Record<EtcdMinor, string> = {
  '3.4': 'quay.io/coreos/etcd:v3.4.18',
  '3.5': 'gcr.io/etcd-development/etcd:v3.5.35',
  '3.6': 'registry.k8s.io/etcd:3.6.4-0',
};

export const SKIP_SAN = 'experimental-peer-skip-client-san-verification';
export const SKIP_SAN_ENV = 'ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION';

export interface TlsSource {
  style: SkipSanStyle;
  version: EtcdMinor;
}

function fixtureFile(style: SkipSanStyle): string {
  return path.join(REPO_ROOT, 'test/fixtures', style === 'args' ? 'tls-args-etcd.yaml' : 'tls-etcd.yaml');
}

/** The etcd container of a StatefulSet. */
export function etcdContainerOf(sts: V1StatefulSet): V1Container {
  return sts.spec!.template.spec!.containers.find((c) => c.name === 'etcd')!;
}

/** The source's objects (StatefulSet `etcd`, headless Service `etcd`), in `namespace` when given. */
export function tlsSourceObjects(source: TlsSource, namespace?: string): KubernetesObject[] {
  const objects = YAML.parseAllDocuments(fs.readFileSync(fixtureFile(source.style), 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o)
    .map((o) => (namespace ? { ...o, metadata: { ...o.metadata, namespace } } : o));
  const sts = objects.find((o) => o.kind === 'StatefulSet') as V1StatefulSet;
  const etcd = etcdContainerOf(sts);
  etcd.image = ETCD_IMAGES[source.version];
  if (source.style === 'script') {
    etcd.env = etcd.env!.filter((e) => e.name !== SKIP_SAN_ENV);
    const script = etcd.args!.findIndex((a) => a.includes('--listen-peer-urls'));
    etcd.args![script] = etcd.args![script]!.replace(/(--listen-peer-urls=\S+ \\\n)/, `$1--${SKIP_SAN} \\\n`);
  }
  return objects;
}

/** The source StatefulSet alone. */
export function tlsSourceStatefulSet(source: TlsSource): V1StatefulSet {
  return tlsSourceObjects(source).find((o) => o.kind === 'StatefulSet') as V1StatefulSet;
}
