/**
 * The migration spec: one zod schema (the single source of truth), the inferred `MigrationSpec`
 * type with every default filled in, and the JSON Schema for editors generated from it
 * (`schema/migration-spec.schema.json`, see `json-schema.ts`).
 *
 * The spec travels through Temporal history, so it holds references only: Secret names and keys,
 * never certificates, keys, passwords or kubeconfigs. Unknown fields are refused everywhere
 * (typos fail loudly; there is no place to smuggle a secret value in).
 *
 * Pure: zod only, no Node built-ins, no I/O; safe inside workflow code.
 */
import { z } from 'zod';
import { familiesCoveredEntirely, isOpenToAnyone, parseCidr, type Cidr } from './cidr.js';
import { parseDuration } from './duration.js';
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isLabelValue,
  isQualifiedName,
  isQuantity,
} from './k8s-names.js';

export const SPEC_VERSION = 1;
export const SPEC_KIND = 'EtcdMigration';

/** Phase-boundary gates, named after what they open. `switch-clients` opens `retire`. */
export const GATE_NAMES = [
  'shrink',
  'expose',
  'dns',
  'join',
  'leader',
  'switch-clients',
  'finalize',
  'cleanup',
] as const;
export type GateName = (typeof GATE_NAMES)[number];

export const APPROVAL_MODES = ['manual', 'auto'] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

export const DNS_STRATEGIES = ['coredns-hosts', 'host-aliases', 'patch'] as const;
export type DnsStrategyName = (typeof DNS_STRATEGIES)[number];

/** Placeholders a `patch` DNS template may use; each entry (one host name -> one IP) fills them. */
export const PATCH_PLACEHOLDERS = ['{{name}}', '{{ip}}'] as const;

export const MAX_TARGET_REPLICAS = 7;
/** `<statefulset>-<ordinal>` is a pod hostname (63 max) and the controller-revision-hash label value. */
export const MAX_STATEFULSET_NAME = 52;

// ---------------------------------------------------------------------------------------------
// Field validators. Each message names what is wrong with the value; the path names the field.

function checkedString(check: (value: string) => boolean, explain: (value: string) => string) {
  return z.string().refine(check, { error: (issue) => explain(String(issue.input)) });
}

const q = (value: string) => JSON.stringify(value);

const dns1123Label = checkedString(
  isDns1123Label,
  (v) =>
    `${q(v)} is not a valid DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)`,
).meta({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 });

const dns1123Subdomain = checkedString(
  isDns1123Subdomain,
  (v) =>
    `${q(v)} is not a valid DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and "-", at most 253 characters)`,
).meta({ maxLength: 253 });

const serviceName = checkedString(
  isDns1035Label,
  (v) =>
    `${q(v)} is not a valid Service name (DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters)`,
).meta({ pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 });

const statefulSetName = checkedString(
  (v) => isDns1123Label(v) && v.length <= MAX_STATEFULSET_NAME,
  (v) =>
    isDns1123Label(v)
      ? `${q(v)} is too long for a StatefulSet name: at most ${MAX_STATEFULSET_NAME} characters, so that "<name>-<ordinal>" pod hostnames stay valid`
      : `${q(v)} is not a valid StatefulSet name (DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit)`,
).meta({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: MAX_STATEFULSET_NAME });

const secretName = dns1123Subdomain;

const secretKey = checkedString(
  (v) => /^[-._a-zA-Z0-9]+$/.test(v) && v.length <= 253,
  (v) => `${q(v)} is not a valid Secret key (letters, digits, "-", "_" and ".")`,
);

const contextName = z.string().min(1, { error: 'must not be empty: name a kubeconfig context' });

function durationSchema(allowZero: boolean) {
  return checkedString(
    (v) => {
      const ms = parseDuration(v);
      return ms !== undefined && (allowZero || ms > 0);
    },
    (v) =>
      parseDuration(v) === undefined
        ? `${q(v)} is not a duration (use e.g. 30s, 10m, 2h, 1h30m; units ms, s, m, h, d)`
        : `${q(v)} must be longer than zero`,
  ).meta({ pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$' });
}

const durationString = durationSchema(true);
const positiveDuration = durationSchema(false);

const quantity = checkedString(
  isQuantity,
  (v) => `${q(v)} is not a valid Kubernetes quantity (e.g. 1Gi, 512Mi, 250m, 2)`,
);

const cidr = checkedString(
  (v) => parseCidr(v) !== undefined,
  (v) => `${q(v)} is not a valid CIDR (e.g. 10.0.0.0/16 or fd00::/64)`,
);

function keyedRecord(
  valueSchema: z.ZodType<string>,
  checkKey: (key: string) => boolean,
  explainKey: (key: string) => string,
) {
  return z.record(z.string(), valueSchema).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      if (!checkKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: explainKey(key), input: key });
    }
  });
}

const annotations = keyedRecord(
  z.string(),
  isQualifiedName,
  (k) =>
    `${q(k)} is not a valid annotation key (optional DNS-subdomain prefix and "/", then at most 63 characters of letters, digits, "-", "_" and ".")`,
);

const labels = keyedRecord(
  checkedString(
    isLabelValue,
    (v) =>
      `${q(v)} is not a valid label value (at most 63 characters of letters, digits, "-", "_" and ".", starting and ending alphanumeric)`,
  ),
  isQualifiedName,
  (k) =>
    `${q(k)} is not a valid label key (optional DNS-subdomain prefix and "/", then a name of at most 63 characters)`,
);

const resourceList = keyedRecord(quantity, isQualifiedName, (k) => `${q(k)} is not a valid resource name`);

// ---------------------------------------------------------------------------------------------
// Sections.

const loadBalancerSchema = z
  .strictObject({
    annotations: annotations
      .default({})
      .describe(
        'Annotations for every per-member LoadBalancer Service (cloud-specific: internal LB, subnet, ...).',
      ),
    sourceRanges: z
      .array(cidr)
      .optional()
      .describe(
        "loadBalancerSourceRanges: the other cluster's pod (and node) ranges. Required unless allowAnyone is true.",
      ),
    allowAnyone: z
      .boolean()
      .default(false)
      .describe(
        'Explicit opt-in to 0.0.0.0/0 (or ::/0): anyone who can reach the load balancers can join or read etcd. The plan warns loudly.',
      ),
  })
  .superRefine((lb, ctx) => {
    if (lb.allowAnyone) return;
    const ranges = lb.sourceRanges ?? [];
    if (ranges.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['sourceRanges'],
        message:
          "is required: list the CIDR ranges allowed to reach the member load balancers (the other cluster's pod ranges); an empty list would admit anyone (set allowAnyone: true only if you mean that)",
      });
    }
    const parsedRanges: Cidr[] = [];
    let single = false;
    ranges.forEach((range, index) => {
      const parsed = parseCidr(range);
      if (parsed) parsedRanges.push(parsed);
      if (parsed && isOpenToAnyone(parsed)) {
        single = true;
        ctx.addIssue({
          code: 'custom',
          path: ['sourceRanges', index],
          message: `${q(range)} admits anyone to the etcd peer and client ports; list the other cluster's ranges, or set allowAnyone: true to accept that explicitly`,
        });
      }
    });
    // The same opening spelled as several ranges (0.0.0.0/1 + 128.0.0.0/1) needs the same opt-in.
    const covered = single ? [] : familiesCoveredEntirely(parsedRanges);
    if (covered.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['sourceRanges'],
        message: `together cover every ${covered.map((f) => `IPv${f}`).join(' and every ')} address, which admits anyone to the etcd peer and client ports like 0.0.0.0/0; list the other cluster's ranges, or set allowAnyone: true to accept that explicitly`,
      });
    }
  });

const sourceSchema = z
  .strictObject({
    context: contextName.describe('kubeconfig context of the cluster the etcd runs in now.'),
    namespace: dns1123Label,
    statefulSet: statefulSetName.describe('The existing etcd StatefulSet.'),
    service: serviceName.describe('Its headless Service (member names are <pod>.<service>).'),
    loadBalancer: loadBalancerSchema.describe('Per-member LoadBalancer Services for the old members.'),
  })
  .describe('Where the etcd runs now.');

const targetSchema = z
  .strictObject({
    context: contextName.describe('kubeconfig context of the cluster the etcd moves to.'),
    namespace: dns1123Label,
    statefulSet: statefulSetName.describe(
      'The new StatefulSet. Must differ from the source one: pod hostnames become etcd member names.',
    ),
    service: serviceName
      .optional()
      .describe('Headless Service of the new StatefulSet; defaults to the StatefulSet name.'),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(MAX_TARGET_REPLICAS)
      .optional()
      .describe('Size of the new cluster (1..7); defaults to the number of source members.'),
    image: checkedString(
      (v) => v.length > 0 && !/\s/.test(v),
      (v) => `${q(v)} is not a valid image reference (no spaces)`,
    )
      .optional()
      .describe('etcd image for the new members (>= 3.4: learners); defaults to the source image.'),
    resources: z
      .strictObject({ requests: resourceList.optional(), limits: resourceList.optional() })
      .optional()
      .describe('Container resources for the new members, e.g. { limits: { memory: 1Gi } }.'),
    storage: z
      .strictObject({
        className: dns1123Subdomain.optional().describe('StorageClass of the new PVCs.'),
        size: quantity.optional().describe('Size of the new PVCs, e.g. 10Gi.'),
      })
      .optional(),
    labels: labels.default({}).describe('Extra labels for the new StatefulSet and its pods.'),
    annotations: annotations.default({}).describe('Extra annotations for the new StatefulSet and its pods.'),
    loadBalancer: loadBalancerSchema.describe('Per-member LoadBalancer Services for the new members.'),
  })
  .transform((target) => ({ ...target, service: target.service ?? target.statefulSet }))
  .describe('Where the etcd moves to.');

const corednsHostsSchema = z
  .strictObject({
    strategy: z.literal('coredns-hosts'),
    namespace: dns1123Label.default('kube-system'),
    configMap: dns1123Subdomain.default('coredns'),
    key: secretKey.default('Corefile'),
  })
  .describe('Static entries in a managed block inside the hosts plugin of the CoreDNS Corefile.');

const hostAliasesSchema = z
  .strictObject({ strategy: z.literal('host-aliases') })
  .describe("hostAliases in the new StatefulSet's pod template (target cluster only).");

const jsonPatchOpSchema = z.strictObject({
  op: z.enum(['add', 'remove', 'replace', 'copy', 'move', 'test']),
  path: z.string().startsWith('/', {
    error: (issue) => `${q(String(issue.input))} is not a JSON pointer (must start with "/")`,
  }),
  from: z.string().optional(),
  value: z.json().optional(),
});

function checkPlaceholders(
  ops: z.infer<typeof jsonPatchOpSchema>[],
  ctx: z.RefinementCtx,
  field: string,
  requireAll: boolean,
) {
  const used = new Set<string>();
  ops.forEach((op, index) => {
    for (const [key, text] of [
      ['path', op.path],
      ['value', op.value === undefined ? '' : JSON.stringify(op.value)],
    ] as const) {
      for (const match of text.matchAll(/\{\{[^}]*\}\}/g)) {
        const placeholder = match[0];
        if ((PATCH_PLACEHOLDERS as readonly string[]).includes(placeholder)) used.add(placeholder);
        else
          ctx.addIssue({
            code: 'custom',
            path: [field, index, key],
            message: `unknown placeholder ${placeholder} (use ${PATCH_PLACEHOLDERS.join(' and ')})`,
          });
      }
    }
  });
  if (!requireAll) return;
  const missing = PATCH_PLACEHOLDERS.filter((p) => !used.has(p));
  if (missing.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: [field],
      message: `must use ${missing.join(' and ')}: the template is applied once per host name and IP`,
    });
  }
}

const patchSchema = z
  .strictObject({
    strategy: z.literal('patch'),
    object: z
      .strictObject({
        apiVersion: z.string().min(1, { error: 'must not be empty' }),
        kind: z.string().min(1, { error: 'must not be empty' }),
        namespace: dns1123Label.optional(),
        name: dns1123Subdomain,
      })
      .describe('The object the JSON patch applies to.'),
    ops: z
      .array(jsonPatchOpSchema)
      .min(1)
      .describe('JSON-patch template applied once per entry; placeholders {{name}} and {{ip}}.'),
    cleanupOps: z
      .array(jsonPatchOpSchema)
      .min(1)
      .optional()
      .describe(
        'JSON-patch template that removes one entry at cleanup; without it cleanup leaves the entries.',
      ),
  })
  .superRefine((patch, ctx) => {
    checkPlaceholders(patch.ops, ctx, 'ops', true);
    if (patch.cleanupOps) checkPlaceholders(patch.cleanupOps, ctx, 'cleanupOps', false);
  })
  .describe('A JSON-patch template applied to a named object (any DNS add-on).');

const dnsStrategySchema = z.discriminatedUnion('strategy', [
  corednsHostsSchema,
  hostAliasesSchema,
  patchSchema,
]);

const dnsSchema = z
  .strictObject({
    sourceCluster: dnsStrategySchema
      .prefault({ strategy: 'coredns-hosts' })
      .describe(
        'How the source cluster learns the new member names (default coredns-hosts; host-aliases is refused: it would restart the old members).',
      ),
    targetCluster: dnsStrategySchema
      .prefault({ strategy: 'host-aliases' })
      .describe('How the target cluster learns the old member names (default host-aliases).'),
  })
  .describe("How each cluster resolves the other cluster's member names to load-balancer IPs.");

const secretKeys = {
  certKey: secretKey.default('tls.crt'),
  keyKey: secretKey.default('tls.key'),
};

const certificateSourceSchema = z
  .strictObject({
    secret: z
      .strictObject({ name: secretName, ...secretKeys, caKey: secretKey.default('ca.crt') })
      .optional()
      .describe('A Secret in the target namespace with a certificate valid for the new member names.'),
    issueFrom: z
      .strictObject({ caSecret: secretName, ...secretKeys, validity: positiveDuration.default('8760h') })
      .optional()
      .describe("A CA Secret in the target namespace to issue the new members' certificates from."),
  })
  .superRefine((source, ctx) => {
    const given = [source.secret, source.issueFrom].filter((s) => s !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `needs exactly one of "secret" or "issueFrom" (got ${given === 0 ? 'neither' : 'both'})`,
      });
    }
  });

const secretRefSchema = z.strictObject({
  cluster: z
    .enum(['source', 'target'])
    .default('source')
    .describe(
      "The cluster whose namespace holds the Secret. per-cluster: the Secret must exist in both clusters: each worker talks to etcd (the source's before the client switch, the target's after) and reads the Secret of this name in its own cluster, in namespace if given, else in its own side's namespace.",
    ),
  namespace: dns1123Label
    .optional()
    .describe("Defaults to that side's namespace (per-cluster: each worker's own side's)."),
  name: secretName,
});

const taskQueueName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'letters, digits and . _ : / - only');

export const WORKER_MODES = ['single', 'per-cluster'] as const;

const workersSchema = z
  .strictObject({
    mode: z
      .enum(WORKER_MODES)
      .default('single')
      .describe(
        "single: one worker reaches both clusters' API servers and pod networks (a jump host with peering). per-cluster: each cluster runs its own worker with only its own ServiceAccount; every activity goes to the task queue of the cluster it touches and the clusters share nothing but the member load balancers.",
      ),
    source: z
      .strictObject({
        taskQueue: taskQueueName
          .optional()
          .describe(
            "Task queue of the source cluster's worker (per-cluster); default etcd-stretch-<source.context>.",
          ),
      })
      .prefault({}),
    target: z
      .strictObject({
        taskQueue: taskQueueName
          .optional()
          .describe(
            "Task queue of the target cluster's worker (per-cluster); default etcd-stretch-<target.context>.",
          ),
      })
      .prefault({}),
  })
  .describe('Where the activities run.');

const tlsSchema = z
  .strictObject({
    peer: certificateSourceSchema.optional().describe('Peer TLS (https on 2380) for the new members.'),
    client: certificateSourceSchema.optional().describe('Client TLS (https on 2379) for the new members.'),
    operator: secretRefSchema
      .extend({ ...secretKeys, caKey: secretKey.default('ca.crt') })
      .optional()
      .describe(
        'Client certificate the migration itself presents to etcd. per-cluster: the Secret must exist in both clusters.',
      ),
    peerSkipClientSanVerification: z
      .boolean()
      .default(false)
      .describe(
        "Start the new members with --peer-skip-client-san-verification (etcd >= 3.5): needed when peer connections arrive through load balancers that rewrite the source address (SNAT, proxies), where etcd's check of the peer certificate's SANs against the remote address fails. Peers are then admitted by CA (and --peer-cert-allowed-cn/hostname if set) only.",
      ),
  })
  .describe('TLS material, by Secret reference only.');

const authSchema = z
  .strictObject({
    secret: secretRefSchema
      .extend({ usernameKey: secretKey.default('username'), passwordKey: secretKey.default('password') })
      .describe(
        'Secret holding the etcd user the migration authenticates as. per-cluster: the Secret must exist in both clusters.',
      ),
  })
  .describe('etcd authentication, by Secret reference only.');

const gatesSchema = z
  .strictObject(
    Object.fromEntries(
      GATE_NAMES.map((gate) => [
        gate,
        z.enum(APPROVAL_MODES).default(gate === 'switch-clients' || gate === 'cleanup' ? 'manual' : 'auto'),
      ]),
    ) as Record<GateName, z.ZodDefault<z.ZodEnum<{ manual: 'manual'; auto: 'auto' }>>>,
  )
  .describe('Approval per phase-boundary gate: manual waits for an operator, auto passes.');

export const migrationSpecSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema reference for editors; ignored.'),
    version: z.literal(SPEC_VERSION),
    kind: z.literal(SPEC_KIND),
    source: sourceSchema,
    target: targetSchema,
    dns: dnsSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    auth: authSchema.optional(),
    shrink: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Compact and defragment before the new members join.'),
        keepRevisions: z
          .number()
          .int()
          .min(0)
          .default(1000)
          .describe('Compact to current revision minus this.'),
      })
      .prefault({}),
    workers: workersSchema.prefault({}),
    gates: gatesSchema.prefault({}),
    soak: durationString
      .default('10m')
      .describe('How long the new cluster runs alone before the cleanup gate.'),
    deadlines: z
      .strictObject({
        step: positiveDuration.default('10m').describe('Longest time one step may take.'),
        catchUp: positiveDuration.default('30m').describe('Longest time a learner may take to catch up.'),
        loadBalancers: positiveDuration.default('15m').describe('Longest wait for load-balancer IPs.'),
        dns: positiveDuration
          .default('5m')
          .describe(
            "Longest wait, per cluster, until that cluster's DNS answers the configured member names (per-cluster workers only).",
          ),
        approval: positiveDuration
          .optional()
          .describe('Longest wait at a manual gate; without it a gate waits until approved or aborted.'),
      })
      .prefault({}),
    cleanup: z
      .strictObject({
        deletePVCs: z
          .boolean()
          .default(false)
          .describe("Delete the old members' PersistentVolumeClaims at cleanup (they are the way back)."),
        removeSourceClusterDns: z
          .boolean()
          .default(false)
          .describe(
            "Remove the source cluster's DNS entries for the new members (clients there may still use them).",
          ),
        deleteTargetMemberServices: z
          .boolean()
          .default(false)
          .describe("Delete the new members' LoadBalancer Services (clients outside may still use them)."),
      })
      .prefault({}),
  })
  .superRefine((spec, ctx) => {
    if (spec.target.statefulSet === spec.source.statefulSet) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'statefulSet'],
        message: `must differ from source.statefulSet (${q(spec.source.statefulSet)}): pod hostnames become etcd member names and must not collide`,
      });
    } else if (spec.target.service === spec.source.service) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'service'],
        message: `must differ from source.service (${q(spec.source.service)}; target.service defaults to target.statefulSet): member names <pod>.<service> of the two sides must not share a domain`,
      });
    }
    if (spec.dns.sourceCluster.strategy === 'host-aliases') {
      ctx.addIssue({
        code: 'custom',
        path: ['dns', 'sourceCluster', 'strategy'],
        message:
          "host-aliases cannot be used in the source cluster: changing the old StatefulSet's pod template restarts the old members; use coredns-hosts or patch",
      });
    }
    if (spec.workers.mode === 'per-cluster' && spec.source.context === spec.target.context) {
      ctx.addIssue({
        code: 'custom',
        path: ['workers', 'mode'],
        message: `per-cluster needs two clusters, but source and target use the same context ${q(spec.source.context)}: use single`,
      });
    }
    findKeyMaterial(spec, [], ctx);
  });

/** Refuses anything that looks like certificate or key material: the spec goes into Temporal history. */
function findKeyMaterial(value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (typeof value === 'string') {
    if (value.includes('-----BEGIN')) {
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          'looks like certificate or key material: the spec is stored in Temporal history, so put it in a Secret and reference it',
      });
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => findKeyMaterial(item, [...path, index], ctx));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) findKeyMaterial(item, [...path, key], ctx);
  }
}

/** A validated migration spec, every default filled in. */
export type MigrationSpec = z.output<typeof migrationSpecSchema>;
/** What a spec file may contain (defaults optional). */
export type MigrationSpecInput = z.input<typeof migrationSpecSchema>;
export type LoadBalancerSpec = MigrationSpec['source']['loadBalancer'];
export type DnsStrategy = MigrationSpec['dns']['sourceCluster'];
export type CertificateSource = NonNullable<MigrationSpec['tls']['peer']>;
export type GateApprovals = MigrationSpec['gates'];
export type WorkerMode = MigrationSpec['workers']['mode'];
