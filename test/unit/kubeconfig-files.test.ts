/**
 * Every entry of a multi-file KUBECONFIG counts, merged as kubectl merges them: the source
 * context in one file and the target context in another both reach the client factory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { kubeClientFactory } from '../../activities/kubernetes/clients.js';
import { loadKubeconfigFiles } from '../../activities/kubernetes/kubeconfig-files.js';
import { ownClusterKubeConfig } from '../../activities/kubernetes/own-cluster.js';
import { kubeconfigFromEnvironment } from '../../activities/migration/kubeconfig.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-files-'));
  dirs.push(dir);
  return dir;
}

/** A kubeconfig with one context per name (cluster, user and context share it). */
function kubeconfig(
  file: string,
  names: string[],
  opts: { current?: string; server?: (n: string) => string; caFile?: string } = {},
): string {
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      ...(opts.current ? { 'current-context': opts.current } : {}),
      clusters: names.map((n) => ({
        name: n,
        cluster: {
          server: opts.server?.(n) ?? `https://${n}.example:6443`,
          ...(opts.caFile ? { 'certificate-authority': opts.caFile } : {}),
        },
      })),
      users: names.map((n) => ({ name: n, user: { token: `token-${n}` } })),
      contexts: names.map((n) => ({ name: n, context: { cluster: n, user: n } })),
    }),
  );
  return file;
}

describe('a multi-file KUBECONFIG', () => {
  it('every file contributes its contexts; the first to name one wins, and the first current context', () => {
    const dir = scratch();
    const a = kubeconfig(path.join(dir, 'a.yaml'), ['source', 'shared'], {
      server: (n) => `https://a-${n}.example:6443`,
    });
    const b = kubeconfig(path.join(dir, 'b.yaml'), ['target', 'shared'], {
      current: 'target',
      server: (n) => `https://b-${n}.example:6443`,
    });
    const c = kubeconfig(path.join(dir, 'c.yaml'), ['other'], { current: 'other' });
    const kc = loadKubeconfigFiles([a, b, c].join(path.delimiter));
    expect(kc.getContexts().map((x) => x.name)).toEqual(['source', 'shared', 'target', 'other']);
    expect(kc.getCluster('shared')?.server).toBe('https://a-shared.example:6443');
    expect(kc.getCluster('target')?.server).toBe('https://b-target.example:6443');
    expect(kc.getCurrentContext()).toBe('target');
  });

  it('the client factory reaches a context of the second file', () => {
    const dir = scratch();
    const a = kubeconfig(path.join(dir, 'a.yaml'), ['source'], { current: 'source' });
    const b = kubeconfig(path.join(dir, 'b.yaml'), ['target']);
    const list = kubeconfigFromEnvironment({ KUBECONFIG: `${a}${path.delimiter}${b}` });
    const clients = kubeClientFactory(list);
    expect(clients('source').kc.getCurrentCluster()?.server).toBe('https://source.example:6443');
    expect(clients('target').kc.getCurrentCluster()?.server).toBe('https://target.example:6443');
    expect(clients('target').kc.getCurrentUser()?.token).toBe('token-target');
    // A per-cluster worker finds its context in any of the files too.
    expect(
      ownClusterKubeConfig('target', { kubeconfig: list })
        .getContexts()
        .map((x) => x.name),
    ).toEqual(['target']);
  });

  it('skips entries that do not exist and empty ones; fails when none exists', () => {
    const dir = scratch();
    const b = kubeconfig(path.join(dir, 'b.yaml'), ['target']);
    const missing = path.join(dir, 'missing.yaml');
    const list = kubeconfigFromEnvironment({ KUBECONFIG: ['', missing, b, ''].join(path.delimiter) });
    expect(list).toBe(b);
    expect(() => kubeconfigFromEnvironment({ KUBECONFIG: missing })).toThrow(/not found: set KUBECONFIG/);
    expect(() => loadKubeconfigFiles(missing)).toThrow(/no such file/);
  });

  it('a relative certificate path stays relative to the file that names it', () => {
    const dir = scratch();
    fs.mkdirSync(path.join(dir, 'one'));
    fs.mkdirSync(path.join(dir, 'two'));
    const a = kubeconfig(path.join(dir, 'one', 'a.yaml'), ['source'], { caFile: 'ca.crt' });
    const b = kubeconfig(path.join(dir, 'two', 'b.yaml'), ['target'], { caFile: 'ca.crt' });
    const kc = loadKubeconfigFiles(`${a}${path.delimiter}${b}`);
    expect(kc.getCluster('source')?.caFile).toBe(path.join(dir, 'one', 'ca.crt'));
    expect(kc.getCluster('target')?.caFile).toBe(path.join(dir, 'two', 'ca.crt'));
  });
});
