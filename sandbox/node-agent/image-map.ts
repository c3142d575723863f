import fs from 'node:fs';
import { toolPath } from '../config.js';

export type ImageResolution =
  { ok: true; minor: string; binDir: Record<string, string> } | { ok: false; reason: string };

const KNOWN_REPOSITORIES = [/(^|\/)etcd$/, /(^|\/)etcd-development\/etcd$/, /(^|\/)coreos\/etcd$/];

/**
 * Maps an etcd container image to the local etcd binaries of the same minor version:
 * quay.io/coreos/etcd:v3.4.18, gcr.io/etcd-development/etcd:v3.5.17, registry.k8s.io/etcd:3.6.4-0 ...
 * The patch level is not honoured: each minor version has one local build.
 */
export function resolveImage(image: string): ImageResolution {
  const at = image.lastIndexOf(':');
  const slash = image.lastIndexOf('/');
  const repo = at > slash ? image.slice(0, at) : image;
  const tag = at > slash ? image.slice(at + 1) : 'latest';
  if (!KNOWN_REPOSITORIES.some((r) => r.test(repo))) {
    return { ok: false, reason: `image ${image}: the sandbox runs only etcd images` };
  }
  const m = /^v?(\d+)\.(\d+)\./.exec(tag);
  if (!m) return { ok: false, reason: `image ${image}: tag "${tag}" names no etcd version` };
  const minor = `${m[1]}.${m[2]}`;
  const binaries: Record<string, string> = {};
  for (const name of ['etcd', 'etcdctl', 'etcdutl']) {
    const p = toolPath(`${name}-${minor}`);
    if (fs.existsSync(p)) binaries[name] = p;
  }
  if (!binaries.etcd || !binaries.etcdctl) {
    return {
      ok: false,
      reason: `image ${image}: no local etcd ${minor} build (expected ${toolPath(`etcd-${minor}`)})`,
    };
  }
  return { ok: true, minor, binDir: binaries };
}
