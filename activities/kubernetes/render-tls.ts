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
 * `client-cert-auth` / `peer-client-cert-auth` stay as the source sets them; the peer SAN-check
 * setting (`tls.peerSkipClientSanVerification`) is turned on where and as the source writes it
 * (`renderSkipSanVerification`).
 *
 * Other references to the moved files (exec probes such as `etcdctl --cacert=...`, variables such
 * as `ETCDCTL_CACERT`, other commands of a script) are moved along, exact path by exact path. A
 * reference left pointing into a removed source certificate volume is refused: the pod would never
 * become ready.
 *
 * Pure: no I/O.
 */
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { MigrationSpec } from '../../core/spec/schema.js';
import { booleanFlag, flagValue, setBooleanFlag, setFlag } from './etcd-flags.js';
import { etcdVersionOf, versionAtLeast, type EtcdMinorVersion } from './etcd-version.js';
import { RenderError } from './render-error.js';

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

/**
 * The names of etcd's peer SAN-check setting and the versions that have them: etcd 3.4 (from
 * 3.4.0) and 3.5 know only the experimental name; 3.6 adds the new one, keeps the old one
 * deprecated ("will be decommissioned in v3.7") and refuses both at once.
 */
export const SKIP_SAN_SETTINGS: readonly {
  name: string;
  from: EtcdMinorVersion;
  until?: EtcdMinorVersion;
}[] = [
  { name: 'experimental-peer-skip-client-san-verification', from: [3, 4], until: [3, 7] },
  { name: 'peer-skip-client-san-verification', from: [3, 6] },
];

function versionHas(setting: (typeof SKIP_SAN_SETTINGS)[number], version: EtcdMinorVersion): boolean {
  return versionAtLeast(version, setting.from) && !(setting.until && versionAtLeast(version, setting.until));
}

/** The name of the setting an image's etcd version has (the experimental one when unknown). */
export function skipSanFlag(image: string | undefined): string {
  const version = etcdVersionOf(image ?? '');
  return (
    (version && SKIP_SAN_SETTINGS.find((s) => s.until === undefined && versionHas(s, version))?.name) ??
    SKIP_SAN_SETTINGS[0]!.name
  );
}

/**
 * The peer SAN-check setting of the new members: kept under the name and in the place the source
 * writes it (flag, script or `ETCD_*` variable; etcd refuses a variable that shadows a flag, and
 * etcd 3.6 refuses the two names at once), set to true where the spec asks for it, else added as
 * the target version names it. A name the target's etcd version does not have is refused.
 */
function renderSkipSanVerification(
  container: V1Container,
  spec: MigrationSpec,
  notes: string[],
): V1Container {
  const image = container.image ?? '';
  const version = etcdVersionOf(image);
  const written = SKIP_SAN_SETTINGS.flatMap((s) => {
    const found = booleanFlag(container, s.name);
    return found ? [{ ...s, where: found.where }] : [];
  });
  if (written.length > 1) {
    throw new RenderError(
      `container ${container.name} sets both --${written[0]!.name} and --${written[1]!.name}: etcd 3.6 refuses that, and etcd 3.4 and 3.5 know only the first; keep one`,
    );
  }
  for (const s of written) {
    if (version && !versionHas(s, version)) {
      throw new RenderError(
        `container ${container.name} sets --${s.name} (${s.where}), which etcd ${version.join('.')} of image ${image} does not have (etcd 3.4 and 3.5 name it --${SKIP_SAN_SETTINGS[0]!.name}, 3.6 both, 3.7 only --${SKIP_SAN_SETTINGS[1]!.name}): the new members would not start; name it as the new members' etcd version does, or set target.image to a version that has it`,
      );
    }
  }
  if (!spec.tls.peer || !spec.tls.peerSkipClientSanVerification) return container;
  const name = written[0]?.name ?? skipSanFlag(image);
  const set = setBooleanFlag(container, name, true);
  notes.push(`${name}: ${set.where.join('+')}`);
  return set.container;
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
  const moves: PathMove[] = [];
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
      if (before && before !== `${dir}/${files[what]}`)
        moves.push({ from: before, to: `${dir}/${files[what]}` });
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
  container = renderSkipSanVerification(container, spec, notes);
  // The source's certificate volumes: their Secrets live in the source cluster only.
  const dropped = new Set(
    mounts
      .filter((m) => moves.some((p) => withinMount(p.from, m.mountPath)))
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
  const droppedMounts = mounts.filter((m) => dropped.has(m.name));
  mounts = mounts.filter((m) => !dropped.has(m.name));
  const otherUsers = new Set(
    podSpec.containers
      .filter((_, i) => i !== index)
      .flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)),
  );
  const keptVolumes = volumes.filter((v) => !dropped.has(v.name) || otherUsers.has(v.name));
  if (dropped.size > 0) notes.push(`source certificate volumes removed: ${[...dropped].join(', ')}`);
  container = { ...moveFileReferences(container, moves, droppedMounts, notes), volumeMounts: mounts };
  if (perMember) {
    const env: V1EnvVar[] = (container.env ?? []).filter((e) => e.name !== MEMBER_ENV);
    env.unshift({ name: MEMBER_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    container = { ...container, env };
  }
  const containers = [...podSpec.containers];
  containers[index] = container;
  return { container, podSpec: { ...podSpec, containers, volumes: keptVolumes }, notes };
}

interface PathMove {
  from: string;
  to: string;
}

const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;
const MEMBER_REFERENCE = `$(${MEMBER_ENV})`;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The whole path, not a longer one it starts or ends (`/a/ca.crt`, not `/a/ca.crt.old`). */
const wholePath = (path: string, flags = ''): RegExp =>
  new RegExp(`(?<![\\w./-])${escapeRegExp(path)}(?![\\w.-])`, flags);

/** A path inside `dir` (or `dir` itself). */
const insideDir = (dir: string): RegExp =>
  new RegExp(`(?<![\\w./-])${escapeRegExp(dir.replace(/\/$/, ''))}(?=/|(?![\\w.-]))`);

function movePaths(text: string, moves: PathMove[], memberReference: string): string {
  return moves.reduce(
    (t, m) => t.replace(wholePath(m.from, 'g'), () => m.to.split(MEMBER_REFERENCE).join(memberReference)),
    text,
  );
}

/**
 * Kubernetes expands `$(VAR)` in command, args and variables, but in an exec probe only for
 * variables with a literal value: a probe reaches the pod's own file through the shell instead.
 */
function isShellScript(command: string[]): boolean {
  return (
    /(^|\/)(ba|da|a|z)?sh$/.test(command[0] ?? '') && command.slice(1).some((a) => /^-[a-z]*c[a-z]*$/.test(a))
  );
}

function moveFileReferences(
  container: V1Container,
  moves: PathMove[],
  droppedMounts: { name: string; mountPath: string }[],
  notes: string[],
): V1Container {
  const plain = (text: string): string => movePaths(text, moves, MEMBER_REFERENCE);
  let c: V1Container = {
    ...container,
    ...(container.command ? { command: container.command.map(plain) } : {}),
    ...(container.args ? { args: container.args.map(plain) } : {}),
    ...(container.env
      ? { env: container.env.map((e) => (e.value === undefined ? e : { ...e, value: plain(e.value) })) }
      : {}),
  };
  for (const probe of PROBES) {
    const command = c[probe]?.exec?.command;
    if (!command) continue;
    const shell = isShellScript(command);
    const moved = command.map((part) =>
      movePaths(part, moves, shell ? `\${${MEMBER_ENV}}` : MEMBER_REFERENCE),
    );
    if (
      !shell &&
      moved.some((part, i) => part.includes(MEMBER_REFERENCE) && !command[i]!.includes(MEMBER_REFERENCE))
    )
      throw new RenderError(
        `the ${probe} of container ${c.name} runs ${command[0]} with a certificate file named by path, and each new member has its own certificate file (${MEMBER_REFERENCE}), which Kubernetes does not expand in an exec probe: run the probe through "sh -c" (the migration then points it at \${${MEMBER_ENV}}), name the file through an ETCD_* variable, or give the certificates as tls.<kind>.secret`,
      );
    if (moved.some((part, i) => part !== command[i])) notes.push(`${probe}: certificate paths moved`);
    c = { ...c, [probe]: { ...c[probe], exec: { ...c[probe]!.exec, command: moved } } };
  }
  const places: [string, string][] = [
    ...(c.command ?? []).map((t): [string, string] => ['command', t]),
    ...(c.args ?? []).map((t): [string, string] => ['args', t]),
    ...(c.env ?? []).map((e): [string, string] => [`variable ${e.name}`, e.value ?? '']),
    ...PROBES.flatMap((p) => (c[p]?.exec?.command ?? []).map((t): [string, string] => [p, t])),
  ];
  for (const mount of droppedMounts) {
    const left = places.find(([, text]) => insideDir(mount.mountPath).test(text));
    if (left)
      throw new RenderError(
        `the ${left[0]} of container ${c.name} refers to ${mount.mountPath}, the source's certificate volume ${mount.name}, which the new members do not get (its Secret exists only in the source cluster; only etcd's own certificate settings are moved to the new certificates): name that file through one of etcd's certificate settings, or remove the reference`,
      );
  }
  return c;
}
