/**
 * TLS of the target pod template: the new members' certificates come from the target cluster's
 * Secrets (the spec's `tls.<peer|client>.secret`, or the Secret the migration issues from
 * `issueFrom`), not from the source's Secrets, which exist only in the source cluster.
 *
 * For each kind the spec configures: a read-only Secret volume at `/etc/etcd-stretch/<kind>`, the
 * etcd file settings (`peer-cert-file`, `peer-key-file`, `peer-trusted-ca-file`; `cert-file`,
 * `key-file`, `trusted-ca-file`) pointed at it wherever the source writes them (flag, script or
 * `ETCD_*` env), and the source's Secret volumes that held the old files removed. Issued Secrets
 * hold one certificate per member (`<pod>.crt`/`<pod>.key`): each pod picks its own through
 * `$(STRETCH_POD_NAME)`, an environment variable (not `ETCD_*`: etcd warns about unknown ones) set from the pod name (first in the list, so
 * that Kubernetes expands it in later variables, command and args).
 * `client-cert-auth` / `peer-client-cert-auth` stay as the source sets them.
 *
 * Pure: no I/O.
 */
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../workflows/spec/schema.js';
import { flagValue, setFlag } from './etcd-flags.js';

export const TLS_MOUNT_ROOT = '/etc/etcd-stretch';
export const MEMBER_ENV = 'STRETCH_POD_NAME';

type Kind = 'peer' | 'client';

const FILE_FLAGS: Record<Kind, { cert: string; key: string; ca: string }> = {
  peer: { cert: 'peer-cert-file', key: 'peer-key-file', ca: 'peer-trusted-ca-file' },
  client: { cert: 'cert-file', key: 'key-file', ca: 'trusted-ca-file' },
};

/** Same rule as member-certificates.ts (kept here so rendering stays pure and import-light). */
export function tlsSecretName(spec: MigrationSpec, kind: Kind): string | undefined {
  const source = spec.tls[kind];
  if (!source) return undefined;
  return source.secret ? source.secret.name : `${spec.target.statefulSet}-${kind}-tls`;
}

export function tlsVolumeName(kind: Kind): string {
  return `etcd-stretch-${kind}-tls`;
}

/** etcd 3.4 and 3.5 know the setting only as experimental; 3.6 renamed it (the old name is deprecated). */
export function skipSanFlag(image: string | undefined): string {
  const m = /:v?(\d+)\.(\d+)\./.exec(image ?? '');
  const newName = m !== null && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 6));
  return newName ? 'peer-skip-client-san-verification' : 'experimental-peer-skip-client-san-verification';
}

export interface TlsRendering {
  container: V1Container;
  podSpec: V1PodSpec;
  notes: string[];
}

function withinMount(path: string, mountPath: string): boolean {
  const dir = mountPath.replace(/\/$/, '');
  return path === dir || path.startsWith(`${dir}/`);
}

/** Applies the spec's TLS to the etcd container (at `index`) of a target pod spec. */
export function renderTargetTls(podSpec: V1PodSpec, index: number, spec: MigrationSpec): TlsRendering {
  let container = podSpec.containers[index]!;
  const notes: string[] = [];
  const volumes: V1Volume[] = [...(podSpec.volumes ?? [])];
  let mounts = [...(container.volumeMounts ?? [])];
  const replacedPaths: string[] = [];
  let perMember = false;
  for (const kind of ['peer', 'client'] as const) {
    const source = spec.tls[kind];
    if (!source) continue;
    const dir = `${TLS_MOUNT_ROOT}/${kind}`;
    const files = source.secret
      ? { cert: source.secret.certKey, key: source.secret.keyKey, ca: source.secret.caKey }
      : { cert: `$(${MEMBER_ENV}).crt`, key: `$(${MEMBER_ENV}).key`, ca: 'ca.crt' };
    perMember ||= !source.secret;
    for (const what of ['cert', 'key', 'ca'] as const) {
      const flag = FILE_FLAGS[kind][what];
      const before = flagValue(container, flag);
      if (before) replacedPaths.push(before);
      const set = setFlag(container, flag, `${dir}/${files[what]}`);
      container = set.container;
      notes.push(`${flag}: ${set.where.join('+')}`);
    }
    const volume = tlsVolumeName(kind);
    const at = volumes.findIndex((v) => v.name === volume);
    const secretVolume: V1Volume = { name: volume, secret: { secretName: tlsSecretName(spec, kind)! } };
    if (at >= 0) volumes[at] = secretVolume;
    else volumes.push(secretVolume);
    mounts = [...mounts.filter((m) => m.name !== volume), { name: volume, mountPath: dir, readOnly: true }];
  }
  if (spec.tls.peer && spec.tls.peerSkipClientSanVerification) {
    const set = setFlag(container, skipSanFlag(container.image), 'true');
    container = set.container;
    notes.push(`${skipSanFlag(container.image)}: ${set.where.join('+')}`);
  }
  // The source's certificate volumes: their Secrets live in the source cluster only.
  const dropped = new Set(
    mounts
      .filter((m) => replacedPaths.some((p) => withinMount(p, m.mountPath)))
      .map((m) => m.name)
      .filter((name) => {
        const v = volumes.find((x) => x.name === name);
        return (
          v !== undefined &&
          (v.secret !== undefined || v.projected !== undefined) &&
          !name.startsWith('etcd-stretch-')
        );
      }),
  );
  mounts = mounts.filter((m) => !dropped.has(m.name));
  const otherUsers = new Set(
    podSpec.containers
      .filter((_, i) => i !== index)
      .flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)),
  );
  const keptVolumes = volumes.filter((v) => !dropped.has(v.name) || otherUsers.has(v.name));
  if (dropped.size > 0) notes.push(`source certificate volumes removed: ${[...dropped].join(', ')}`);
  container = { ...container, volumeMounts: mounts };
  if (perMember) {
    const env: V1EnvVar[] = (container.env ?? []).filter((e) => e.name !== MEMBER_ENV);
    env.unshift({ name: MEMBER_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    container = { ...container, env };
  }
  const containers = [...podSpec.containers];
  containers[index] = container;
  return { container, podSpec: { ...podSpec, containers, volumes: keptVolumes }, notes };
}
