/** etcd versions read from container images. Pure: no I/O. */

export type EtcdMinorVersion = [major: number, minor: number];

/** etcd minor version of an image tag (`quay.io/coreos/etcd:v3.4.18` -> [3, 4]), if readable. */
export function etcdVersionOf(image: string): EtcdMinorVersion | undefined {
  const tag = image.slice(image.lastIndexOf('/') + 1).split('@')[0]!;
  const m = /:v?(\d+)\.(\d+)/.exec(tag);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Is `version` at least `floor`? */
export function versionAtLeast(version: EtcdMinorVersion, floor: EtcdMinorVersion): boolean {
  return version[0] !== floor[0] ? version[0] > floor[0] : version[1] >= floor[1];
}
