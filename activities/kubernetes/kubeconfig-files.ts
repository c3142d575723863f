/**
 * A KUBECONFIG list of files merged as kubectl merges them: every existing entry counts, a name
 * (cluster, user, context) is taken from the first file that defines it, and so is the current
 * context; files that do not exist are skipped. (`KubeConfig.loadFromDefault` lets the last
 * file's current context win and throws on a name two files define.) Relative certificate paths
 * stay relative to the file that names them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** The entries of a KUBECONFIG-style list (`path.delimiter`-separated), empty ones dropped. */
export function kubeconfigEntries(list: string): string[] {
  return list.split(path.delimiter).filter(Boolean);
}

function firstByName<T extends { name: string }>(lists: T[][]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of lists.flat()) {
    if (seen.has(item.name)) continue;
    seen.add(item.name);
    out.push(item);
  }
  return out;
}

/** Loads and merges the files of `list`; throws when none of them exists. */
export function loadKubeconfigFiles(list: string): KubeConfig {
  const files = kubeconfigEntries(list).filter((file) => fs.existsSync(file));
  if (files.length === 0) throw new Error(`kubeconfig ${list}: no such file`);
  const loaded = files.map((file) => {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new Error(`kubeconfig ${file}: ${(err as Error).message}`);
    }
    return kc;
  });
  if (loaded.length === 1) return loaded[0]!;
  const merged = new KubeConfig();
  merged.loadFromOptions({
    clusters: firstByName(loaded.map((kc) => kc.getClusters())),
    users: firstByName(loaded.map((kc) => kc.getUsers())),
    contexts: firstByName(loaded.map((kc) => kc.getContexts())),
    currentContext: loaded.map((kc) => kc.getCurrentContext()).find(Boolean) ?? '',
  });
  return merged;
}
