/**
 * One line per activity input and result, in the operator's words (the same words the
 * workflow's step notes use). Inputs and results are decoded JSON: read defensively, an
 * older or newer history may carry other shapes. Descriptions only: which step an undo
 * reverses is history.ts's business (an undo's own `undoes` is named in its description).
 */
import { isObj, list, num, str, undoesOf, type Obj } from './read-json.js';

/** The spec's object names, to say which StatefulSet a step touches. */
function specNames(input: Obj): { source: string; target: string } {
  const spec = isObj(input.spec) ? input.spec : {};
  const side = (k: string) => (isObj(spec[k]) ? str(spec[k].statefulSet) : undefined);
  return { source: side('source') ?? 'source StatefulSet', target: side('target') ?? 'target StatefulSet' };
}

export function describeInput(type: string, raw: unknown): string {
  const input = isObj(raw) ? raw : {};
  const undoes = undoesOf(input);
  return undoes === undefined
    ? describeAction(type, input)
    : `${describeAction(type, input)}; undoes ${undoes}`;
}

function describeAction(type: string, input: Obj): string {
  const side = str(input.side) ?? '?';
  const member = str(input.member) ?? '?';
  const members = list(input.members);
  const names = specNames(input);
  switch (type) {
    case 'preflight':
      return 'preflight checks (nothing changes)';
    case 'observe':
      return 'observe the cluster (members, leader, health, hashKV)';
    case 'compact':
      return `compact, keeping ${num(input.keepRevisions) ?? '?'} revisions`;
    case 'rollingDefragment':
      return `rolling defragment of ${members.join(', ')}`;
    case 'ensureHeadlessService':
      return `create the headless Service (${side})`;
    case 'deleteHeadlessService':
      return `delete the headless Service (${side})`;
    case 'ensureMemberServices':
      return `create member LoadBalancer Services for ${members.join(', ')} (${side})`;
    case 'deleteMemberServices':
      return `delete member Services of ${members.join(', ')} (${side})`;
    case 'awaitLoadBalancers':
      return `wait for load-balancer addresses of ${members.join(', ')} (${side})`;
    case 'issueCertificates':
      return `issue certificates for ${members.join(', ')}`;
    case 'deleteIssuedCertificates':
      return 'delete the issued certificate Secrets';
    case 'configureDns': {
      const strategy = isObj(input.strategy) ? str(input.strategy.strategy) : undefined;
      const entries = Array.isArray(input.entries) ? input.entries.length : 0;
      return `configure DNS in ${side} for ${entries} members via ${strategy ?? '?'}`;
    }
    case 'removeDns': {
      const hostnames = list(input.hostnames);
      return `remove DNS entries in ${side} (${hostnames.length} names)`;
    }
    case 'addLearner':
      return `add learner ${member} (${list(input.peerURLs).join(', ')})`;
    case 'removeLearner':
      return `remove member ${member}${str(input.memberId) ? ` (${str(input.memberId)})` : ''}`;
    case 'scaleTarget':
      return `scale ${names.target} to ${num(input.replicas) ?? '?'} (starts ${member})`;
    case 'shrinkTarget':
      return `scale ${names.target} back to ${num(input.replicas) ?? '?'} (stops ${list(input.removedMembers).join(', ')})`;
    case 'awaitCatchUp':
      return `wait for ${member} to catch up`;
    case 'promote':
      return `promote ${member} to voter`;
    case 'moveLeader':
      return `move leadership to ${str(input.to) ?? '?'}`;
    case 'verifyConsistency':
      return `verify hashKV of ${members.join(', ')}`;
    case 'removeMember':
      return `remove member ${member}${str(input.memberId) ? ` (${str(input.memberId)})` : ''}`;
    case 'scaleSource':
      return `scale ${names.source} to ${num(input.replicas) ?? '?'}`;
    case 'finalizeTarget':
      return `finalize ${names.target} (initial-cluster: new members only)`;
    case 'cleanupSourceStatefulSet':
      return `delete ${names.source} (its PVCs are kept)`;
    case 'cleanupSourcePvcs':
      return `delete source PVCs of ${members.join(', ')}`;
    default:
      return type;
  }
}

export function describeResult(type: string, raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  const r = isObj(raw) ? raw : {};
  switch (type) {
    case 'preflight': {
      const refusals = list(r.refusals);
      const warnings = list(r.warnings);
      return refusals.length
        ? `refused: ${refusals.join('; ')}`
        : `passed${warnings.length ? `; warnings: ${warnings.join('; ')}` : ''}`;
    }
    case 'compact':
      return `revision ${num(r.revision) ?? '?'}, compacted to ${num(r.compactedTo) ?? '?'}`;
    case 'rollingDefragment':
      return `${list(r.order).join(' → ')}; db ${num(r.dbSizeBefore) ?? '?'} → ${num(r.dbSizeAfter) ?? '?'} bytes`;
    case 'ensureHeadlessService':
      return r.created === true ? 'created' : 'already there';
    case 'ensureMemberServices':
      return `created ${list(r.created).length}`;
    case 'issueCertificates':
      return Array.isArray(r.secrets)
        ? r.secrets
            .filter(isObj)
            .map(
              (x) => `${str(x.secret) ?? '?'}: issued ${list(x.issued).length}, kept ${list(x.kept).length}`,
            )
            .join('; ')
        : null;
    case 'deleteIssuedCertificates':
      return `deleted ${list(r.deleted).join(', ') || 'none'}`;
    case 'awaitLoadBalancers':
      return isObj(r.addresses)
        ? Object.entries(r.addresses)
            .map(([m, ip]) => `${m}=${String(ip)}`)
            .join(', ')
        : null;
    case 'configureDns':
      return `${num(r.entries) ?? '?'} entries`;
    case 'scaleTarget':
      return `replicas=${num(r.replicas) ?? '?'}${r.created === true ? ' (created)' : ''}`;
    case 'awaitCatchUp':
      return `applied ${num(r.appliedIndex) ?? '?'}/${num(r.leaderIndex) ?? '?'} after ${num(r.tookMs) ?? '?'} ms`;
    case 'addLearner':
    case 'promote':
    case 'removeMember':
      return `${r.alreadyDone === true ? 'already done' : 'done'}: ${str(r.member) ?? '?'} (${str(r.memberId) ?? '?'})`;
    case 'moveLeader':
      return r.alreadyLeader === true
        ? `${str(r.to) ?? '?'} already leads`
        : `leader ${str(r.from) ?? '?'} → ${str(r.to) ?? '?'}`;
    case 'observe':
    case 'verifyConsistency': {
      const hk = isObj(r.hashKv) ? r.hashKv : undefined;
      const leader = str(r.leader) ?? 'none';
      const count = Array.isArray(r.members) ? r.members.length : 0;
      return `${count} members, leader ${leader}${hk ? `, hashKV ${hk.agree === true ? 'agrees' : 'DIFFERS'} at revision ${num(hk.revision) ?? '?'}` : ''}`;
    }
    case 'scaleSource':
      return `replicas=${num(r.replicas) ?? '?'}`;
    case 'cleanupSourcePvcs':
      return `deleted ${list(r.deleted).join(', ') || 'none'}`;
    default:
      return JSON.stringify(raw).slice(0, 200);
  }
}
