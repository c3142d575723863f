/** Phase `preflight`: checks only, nothing changes. No gate in front (starting the run approves it). */
import { names, type PlanContext } from './context.js';
import type { PlanBuilder } from '../plan-builder.js';

export function planPreflight(b: PlanBuilder, { oldMembers, spec: { target } }: PlanContext): void {
  b.add(
    'preflight',
    undefined,
    {
      kind: 'preflight-checks',
      checks: [
        'every voter is healthy and all voters report the same member list',
        `members are exactly ${names(oldMembers)}, all voters, no learner`,
        'every member runs etcd >= 3.4 (learners)',
        "the target image's etcd is the source's minor version or the next one (etcd admits no other)",
        'hashKV agrees on every member at one revision',
        `StatefulSet ${target.statefulSet} and Service ${target.service} do not exist yet in ${target.context}/${target.namespace}`,
      ],
    },
    `preflight: health, member list, versions, hashKV; ${target.statefulSet} absent (nothing changes)`,
  );
}
