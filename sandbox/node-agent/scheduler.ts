import type { V1LabelSelector, V1Node, V1Pod, V1PodAffinityTerm } from '@kubernetes/client-node';

export function matchesSelector(
  labels: Record<string, string> | undefined,
  selector: V1LabelSelector | undefined,
): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const value = l[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !e.values?.includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (has && e.values?.includes(value ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function topologyValue(node: V1Node, key: string): string | undefined {
  return node.metadata?.labels?.[key];
}

function termBlocks(
  term: V1PodAffinityTerm,
  pod: V1Pod,
  node: V1Node,
  others: V1Pod[],
  nodes: Map<string, V1Node>,
): boolean {
  const domain = topologyValue(node, term.topologyKey);
  if (domain === undefined) return false;
  const namespaces = term.namespaces?.length ? term.namespaces : [pod.metadata?.namespace ?? 'default'];
  return others.some((o) => {
    if (!o.spec?.nodeName || o.metadata?.deletionTimestamp) return false;
    if (!namespaces.includes(o.metadata?.namespace ?? 'default')) return false;
    const onode = nodes.get(o.spec.nodeName);
    if (!onode || topologyValue(onode, term.topologyKey) !== domain) return false;
    return matchesSelector(o.metadata?.labels, term.labelSelector);
  });
}

/** Picks a node for a pending pod: nodeSelector, required pod anti-affinity, then the least loaded node. */
export function chooseNode(
  pod: V1Pod,
  nodes: V1Node[],
  pods: V1Pod[],
): { node: string } | { reason: string } {
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? '', n]));
  const others = pods.filter((p) => p.metadata?.uid !== pod.metadata?.uid);
  const terms = pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const candidates = nodes.filter((n) => {
    for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {}))
      if (n.metadata?.labels?.[k] !== v) return false;
    return !terms.some((t) => termBlocks(t, pod, n, others, byName));
  });
  if (candidates.length === 0) {
    return {
      reason: `0/${nodes.length} nodes are available: ${terms.length ? "didn't match pod anti-affinity rules" : "didn't match node selector"}`,
    };
  }
  const load = (n: V1Node) => others.filter((p) => p.spec?.nodeName === n.metadata?.name).length;
  candidates.sort(
    (a, b) => load(a) - load(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
  return { node: candidates[0]!.metadata!.name! };
}
