// Demo, stage 1 (until the migration workflow lands): the two-cluster sandbox with
// the article's 3-member etcd running in the source cluster, holding some data.
import { Etcd3 } from 'etcd3';
import { sandboxStatus, sandboxUp } from '../sandbox/sandbox.js';
import { apply, clusterClient, loadManifests, readyPods } from '../test/helpers/kube.js';

const say = (m: string) => process.stdout.write(`demo: ${m}\n`);

const up = await sandboxUp();
say(
  `sandbox up in ${(up.durationMs / 1000).toFixed(1)} s; kubeconfig ${up.kubeconfig} (contexts source, target)`,
);
const source = clusterClient('source');
await apply(source, loadManifests('test/fixtures/article-etcd.yaml', 'default'));
const pods = await readyPods(source, 'default', 'app=etcd', 3);
const client = new Etcd3({ hosts: pods.map((p) => `http://${p.status!.podIP}:2379`) });
try {
  for (let i = 0; i < 100; i++) await client.put(`demo/key-${i}`).value(`value-${i}`);
  const members = await client.cluster.memberList({ linearizable: true });
  say(`source etcd: ${members.members.map((m) => m.name).join(', ')}; 100 keys written`);
} finally {
  client.close();
}
const status = await sandboxStatus();
for (const c of status.clusters) {
  say(`[${c.name}] nodes ${c.nodes.join(', ')}`);
  for (const p of c.pods)
    say(`  ${p.namespace}/${p.name} ${p.phase}${p.ready ? ' Ready' : ''} ${p.ip ?? ''} on ${p.node ?? '-'}`);
}
say('the sandbox stays up; `npm run sandbox -- down` removes it');
