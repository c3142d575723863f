// Merges kubeconfig files into one, for the worker (it reads a single KUBECONFIG file):
//   node deploy/worker/merge-kubeconfig.mjs <out> <in> [<in> ...]
// In the Deployment (deploy/worker/worker.yaml) the init container merges the in-cluster
// kubeconfig of the ConfigMap (this cluster, through the Pod's ServiceAccount token) with the
// Secret holding the OTHER cluster's kubeconfig. Clusters, users and contexts are copied as they
// are (token files, auth providers, embedded certificates); a name defined twice is an error, not
// a silent override. ETCD_STRETCH_REQUIRED_CONTEXTS (comma-separated) names contexts that must
// exist, e.g. "source,target": the contexts your migration specs name.
import fs from 'node:fs';
import process from 'node:process';
import YAML from 'yaml';

export function mergeKubeconfigs(docs) {
  const out = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] };
  for (const [i, doc] of docs.entries()) {
    if (!doc || typeof doc !== 'object') throw new Error(`kubeconfig #${i + 1} is empty or not a mapping`);
    for (const key of ['clusters', 'users', 'contexts']) {
      for (const entry of doc[key] ?? []) {
        if (out[key].some((e) => e.name === entry.name)) {
          throw new Error(
            `${key.slice(0, -1)} "${entry.name}" is defined twice: rename it in one of the files`,
          );
        }
        out[key].push(entry);
      }
    }
    if (!out['current-context'] && doc['current-context']) out['current-context'] = doc['current-context'];
  }
  for (const ctx of out.contexts) {
    const c = ctx.context ?? {};
    if (!out.clusters.some((e) => e.name === c.cluster))
      throw new Error(`context "${ctx.name}" names cluster "${c.cluster}", which no file defines`);
    if (!out.users.some((e) => e.name === c.user))
      throw new Error(`context "${ctx.name}" names user "${c.user}", which no file defines`);
  }
  return out;
}

function main(argv, env) {
  const [outFile, ...inputs] = argv;
  if (!outFile || inputs.length === 0) {
    throw new Error('usage: merge-kubeconfig.mjs <out> <in> [<in> ...]');
  }
  const merged = mergeKubeconfigs(inputs.map((f) => YAML.parse(fs.readFileSync(f, 'utf8'))));
  const required = (env.ETCD_STRETCH_REQUIRED_CONTEXTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const names = merged.contexts.map((c) => c.name);
  const missing = required.filter((r) => !names.includes(r));
  if (missing.length) {
    throw new Error(
      `missing context(s) ${missing.join(', ')} (the files define: ${names.join(', ') || 'none'})`,
    );
  }
  fs.writeFileSync(outFile, YAML.stringify(merged), { mode: 0o600 });
  process.stdout.write(`kubeconfig ${outFile}: contexts ${names.join(', ')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`merge-kubeconfig: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
