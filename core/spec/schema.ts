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

/** The JSON Schema pattern of a duration; the spec reference shows such a field as `duration`. */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$';

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
  ).meta({ pattern: DURATION_PATTERN });
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
        "Annotations on every member load balancer of this side: the cloud's settings, e.g. an internal load balancer and its subnet (docs/kubernetes.md lists them for AWS, GKE, AKS and Yandex Cloud). Without them the cloud makes its default kind, often a public load balancer.",
      ),
    sourceRanges: z
      .array(cidr)
      .optional()
      .describe(
        "`loadBalancerSourceRanges` of this side's member load balancers, as CIDRs (`10.0.0.0/16`, `fd00::/64`): the addresses the other cluster's traffic arrives from, its pod range when pod IPs are routed between the clusters, else its nodes' or NAT gateways' egress addresses. With per-cluster workers the other cluster's worker connects from there too. Required unless `allowAnyone`; ranges that admit every address are refused without it.",
      ),
    allowAnyone: z
      .boolean()
      .default(false)
      .describe(
        'Opt in to member load balancers open to every address: admits `0.0.0.0/0` and `::/0` in `sourceRanges`, and without `sourceRanges` uses `0.0.0.0/0`. Anyone who reaches them can join the etcd cluster or read and write its data on ports 2380 and 2379; the plan and preflight warn loudly. Leave it false outside throwaway tests.',
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
    context: contextName.describe(
      "kubeconfig context of the cluster the etcd runs in now. A single worker's `KUBECONFIG` must hold it; with per-cluster workers it names the cluster: its worker runs with `ETCD_STRETCH_CLUSTER` set to it, and its task queue defaults to `etcd-stretch-<context>`.",
    ),
    namespace: dns1123Label.describe(
      "Namespace of the existing StatefulSet and its Service; the old members' load balancers are created here, and Secrets that `tls.operator` and `auth.secret` name on this side are read here unless they give a namespace.",
    ),
    statefulSet: statefulSetName.describe(
      'The existing etcd StatefulSet. Its pods `<name>-0..N-1` must be exactly the etcd members, all voters; its pod template is the model of the new StatefulSet. Scaled down member by member in phase `retire`, deleted at cleanup.',
    ),
    service: serviceName.describe(
      "Its headless Service (the StatefulSet's `serviceName`): the old member names are `<pod>.<service>`, and the target cluster learns them through `dns.targetCluster`. Deleted with the StatefulSet at cleanup.",
    ),
    loadBalancer: loadBalancerSchema.describe(
      "The old members' load balancers, one LoadBalancer Service `<pod>-lb` per member, through which the target cluster reaches them. Made only when source and target differ in context or namespace, but required (with `sourceRanges`) either way. Deleted at cleanup.",
    ),
  })
  .describe('Where the etcd runs now. Nothing here changes before preflight has passed.');

const targetSchema = z
  .strictObject({
    context: contextName.describe(
      'kubeconfig context of the cluster the etcd moves to, as for `source.context`. It may be the same cluster (then `workers.mode: single`); with the same namespace too, no load balancers and no DNS entries are made.',
    ),
    namespace: dns1123Label.describe(
      "Namespace of the new StatefulSet, its headless Service, the new members' load balancers and the certificates issued for them; it must exist. The `tls.peer` and `tls.client` Secrets are read here.",
    ),
    statefulSet: statefulSetName.describe(
      'Name of the new StatefulSet, which must not exist yet. Must differ from `source.statefulSet`: pod names `<name>-0..` become etcd member names. At most 52 characters.',
    ),
    service: serviceName
      .optional()
      .describe(
        'Headless Service of the new StatefulSet, created by the run: the new member names are `<pod>.<service>`. Default: `target.statefulSet`. Must differ from `source.service` and must not exist unless etcd-stretch made it.',
      ),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(MAX_TARGET_REPLICAS)
      .optional()
      .describe(
        'Number of new members, 1 to 7. Default: the number of source members. A smaller target tolerates fewer failures and an even size no more than one member less would (the plan warns of both).',
      ),
    image: checkedString(
      (v) => v.length > 0 && !/\s/.test(v),
      (v) => `${q(v)} is not a valid image reference (no spaces)`,
    )
      .optional()
      .describe(
        "etcd image of the new members. Default: the source container's image. It must be etcd 3.4 or later (learners) and the source's minor version or the next one (etcd admits no other), and the target cluster must be able to pull it: set it for a registry mirror in the target cloud, or to go up one minor version on the way.",
      ),
    resources: z
      .strictObject({
        requests: resourceList
          .optional()
          .describe(
            'Requests of the new etcd container, e.g. `{ cpu: 500m, memory: 2Gi }` (Kubernetes quantities).',
          ),
        limits: resourceList.optional().describe('Limits of the new etcd container, e.g. `{ memory: 2Gi }`.'),
      })
      .optional()
      .describe(
        "Resources of the new etcd container. Each map given replaces the source container's map of that name whole (no merge by key); a map left out is copied from the source.",
      ),
    storage: z
      .strictObject({
        className: dns1123Subdomain
          .optional()
          .describe(
            "StorageClass of the new data PVCs. Default: the source claim's class, which must then exist in the target cluster (preflight checks). Set it when the target cloud names its classes differently.",
          ),
        size: quantity
          .optional()
          .describe("Requested size of each new data PVC, e.g. `20Gi`. Default: the source claim's request."),
      })
      .optional()
      .describe(
        "Overrides for the data volume's claim template, the one mounted at etcd's data dir; other claim templates are copied as they are.",
      ),
    labels: labels
      .default({})
      .describe(
        "Extra labels on the new StatefulSet, its pod template and its headless Service, over the source's.",
      ),
    annotations: annotations
      .default({})
      .describe("Extra annotations on the new StatefulSet and its pod template, over the source's."),
    loadBalancer: loadBalancerSchema.describe(
      "The new members' load balancers, one LoadBalancer Service `<pod>-lb` per member, through which the source cluster reaches them. Kept at cleanup unless `cleanup.deleteTargetMemberServices`.",
    ),
  })
  .transform((target) => ({ ...target, service: target.service ?? target.statefulSet }))
  .describe(
    "Where the etcd moves to: a new StatefulSet rendered from the source's pod template, with the overrides below.",
  );

const corednsHostsSchema = z
  .strictObject({
    strategy: z
      .literal('coredns-hosts')
      .describe(
        "Entries in a block of this migration's own inside the `hosts` plugin of the cluster's CoreDNS Corefile, and `rewrite` lines for load balancers known by a hostname (AWS); every other byte of the Corefile stays as it was. CoreDNS's `reload` plugin picks the change up (within a minute or two), no pod restarts. If the platform rewrites the CoreDNS ConfigMap itself, use `patch` on its own setting instead.",
      ),
    namespace: dns1123Label.default('kube-system').describe('Namespace of the CoreDNS ConfigMap.'),
    configMap: dns1123Subdomain
      .default('coredns')
      .describe('Name of the ConfigMap that holds the Corefile; preflight checks it exists with `key`.'),
    key: secretKey.default('Corefile').describe('Key of that ConfigMap that holds the Corefile.'),
  })
  .describe('CoreDNS: a managed block in the Corefile.');

const hostAliasesSchema = z
  .strictObject({
    strategy: z
      .literal('host-aliases')
      .describe(
        "`hostAliases` in the new StatefulSet's pod template: each new pod's `/etc/hosts` maps the old member names to their load-balancer IPs. Target cluster only (in the source it would restart the old members), IP addresses only (refused for load balancers known by a hostname), and only the etcd pods see the names: no other pod of the cluster resolves them.",
      ),
  })
  .describe("hostAliases in the new StatefulSet's pod template.");

const jsonPatchOpSchema = z.strictObject({
  op: z
    .enum(['add', 'remove', 'replace', 'copy', 'move', 'test'])
    .describe('The JSON-patch operation (RFC 6902).'),
  path: z
    .string()
    .startsWith('/', {
      error: (issue) => `${q(String(issue.input))} is not a JSON pointer (must start with "/")`,
    })
    .describe(
      'JSON pointer into the object, e.g. `/spec/settings/hosts/-` (`-` appends to an array); may hold the placeholders.',
    ),
  from: z.string().optional().describe('The pointer `copy` and `move` read from.'),
  value: z
    .json()
    .optional()
    .describe(
      'The value of `add`, `replace` and `test`: any JSON, with the placeholders inside its strings.',
    ),
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
    strategy: z
      .literal('patch')
      .describe(
        "A JSON-patch template applied to a named object: for platforms whose DNS add-on keeps static hosts in a setting of its own (e.g. Deckhouse's `ModuleConfig kube-dns`, `/spec/settings/hosts/-`). IP addresses only (refused for load balancers known by a hostname).",
      ),
    object: z
      .strictObject({
        apiVersion: z
          .string()
          .min(1, { error: 'must not be empty' })
          .describe('apiVersion of the object, e.g. `deckhouse.io/v1alpha1`.'),
        kind: z
          .string()
          .min(1, { error: 'must not be empty' })
          .describe('kind of the object, e.g. `ModuleConfig`.'),
        namespace: dns1123Label
          .optional()
          .describe('Namespace of the object; leave it out for a cluster-scoped one.'),
        name: dns1123Subdomain.describe('Name of the object; preflight checks it exists.'),
      })
      .describe(
        'The object the JSON patch applies to, read and patched through the API server with the resourceVersion read (a concurrent change is re-read and retried).',
      ),
    ops: z
      .array(jsonPatchOpSchema)
      .min(1)
      .describe(
        'JSON-patch template applied once per member host name: `{{name}}` becomes the host name, `{{ip}}` its load-balancer IP; both must appear. Only operations that change the object are sent: an `add` to the end of an array is skipped when an equal element is there, and an element for the same name with another IP is removed first.',
      ),
    cleanupOps: z
      .array(jsonPatchOpSchema)
      .min(1)
      .optional()
      .describe(
        "JSON-patch template that removes one host name's entry (rollback and cleanup); `{{name}}` and, found by matching `ops` against the object, `{{ip}}`. Default: `ops` inverted, which removes the array elements that match the template for that name and the values written at a fixed path. Give it when the inversion would be wrong for your object.",
      ),
  })
  .superRefine((patch, ctx) => {
    checkPlaceholders(patch.ops, ctx, 'ops', true);
    if (patch.cleanupOps) checkPlaceholders(patch.cleanupOps, ctx, 'cleanupOps', false);
  })
  .describe('A JSON-patch template applied to a named object.');

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
        'How the source cluster resolves the new member names, chosen by `strategy`: `coredns-hosts` (the default, in `kube-system/coredns`) or `patch`; `host-aliases` is refused here, it would restart the old members. The entries stay after cleanup unless `cleanup.removeSourceClusterDns`.',
      ),
    targetCluster: dnsStrategySchema
      .prefault({ strategy: 'host-aliases' })
      .describe(
        "How the target cluster resolves the old member names, chosen by `strategy`: `host-aliases` (the default), `coredns-hosts` (needed when the load balancers report hostnames) or `patch`. With per-cluster workers the run waits until the cluster's DNS answers `coredns-hosts` and `patch` entries (`deadlines.dns`); `host-aliases` entries are not checked. Removed at cleanup.",
      ),
  })
  .describe(
    "How each cluster resolves the other cluster's member names (`<pod>`, `<pod>.<service>` and the hosts of the peer URLs) to their load-balancer addresses, in phase `dns`, before any new member starts. Used only when source and target differ in context or namespace.",
  );

/** The keys of a TLS Secret (kubernetes.io/tls names by default); `certificate` says whose it is. */
function tlsSecretKeys(certificate: string) {
  return {
    certKey: secretKey.default('tls.crt').describe(`Key of the Secret that holds ${certificate} (PEM).`),
    keyKey: secretKey
      .default('tls.key')
      .describe(`Key of the Secret that holds the private key of ${certificate} (PEM).`),
  };
}

const certificateSourceSchema = z
  .strictObject({
    secret: z
      .strictObject({
        name: secretName.describe('Name of the Secret, in the target namespace.'),
        ...tlsSecretKeys('the certificate'),
        caKey: secretKey
          .default('ca.crt')
          .describe('Key of the Secret that holds the CA certificate the new members trust (PEM).'),
      })
      .optional()
      .describe(
        'A Secret in the target namespace with one certificate for all new members: its subjectAltName must name each of them as `<pod>.<service>`, exactly or by the wildcard `*.<service>` (see `issueFrom` for every name they are reached by), and a CA the old members trust must sign it. Exactly one of `secret` and `issueFrom`.',
      ),
    issueFrom: z
      .strictObject({
        caSecret: secretName.describe(
          'Name of the Secret, in the target namespace, that holds the CA certificate and key (a cert-manager CA Secret fits).',
        ),
        ...tlsSecretKeys('the CA certificate'),
        validity: positiveDuration
          .default('8760h')
          .describe(
            "Lifetime of each issued certificate (never past the CA's own expiry); a re-run keeps a certificate with at least half of it left. The new members keep serving with these certificates after the migration: rotate them before they expire.",
          ),
      })
      .optional()
      .describe(
        "A CA in the target namespace to issue the new members' certificates from, in phase `expose` once their load-balancer addresses are known: one per member, for `<pod>`, `<pod>.<service>` and its `.<namespace>`, `.svc` and `.svc.cluster.local` forms, the load-balancer address, `localhost` and `127.0.0.1`, into the Secret `<target.statefulSet>-<peer|client>-tls` (deleted by a rollback). It must be the CA the old members trust. Exactly one of `secret` and `issueFrom`.",
      ),
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
      "The side whose cluster holds the Secret (`source` or `target`, not a context name). A single worker reads it there. Per-cluster workers both talk to etcd (the source's members before the client switch, the target's after), and each reads the Secret of this name in its own cluster: it must exist in both.",
    ),
  namespace: dns1123Label
    .optional()
    .describe(
      "Namespace of the Secret. Default: that side's namespace (per-cluster: each worker's own side's namespace).",
    ),
  name: secretName.describe('Name of the Secret.'),
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
            "Task queue of the source cluster's worker (per-cluster only; ignored by `single`). Default: `etcd-stretch-<source.context>`. If you set it, start that worker with `ETCD_STRETCH_ACTIVITY_TASK_QUEUE` set to the same name.",
          ),
      })
      .prefault({})
      .describe("The source cluster's worker."),
    target: z
      .strictObject({
        taskQueue: taskQueueName
          .optional()
          .describe(
            "Task queue of the target cluster's worker (per-cluster only; ignored by `single`). Default: `etcd-stretch-<target.context>`. If you set it, start that worker with `ETCD_STRETCH_ACTIVITY_TASK_QUEUE` set to the same name.",
          ),
      })
      .prefault({})
      .describe("The target cluster's worker."),
  })
  .describe(
    'Where the activities run: one worker that reaches both clusters, or one worker in each. Start the workers to match (docs/workers.md).',
  );

const tlsSchema = z
  .strictObject({
    peer: certificateSourceSchema
      .optional()
      .describe(
        'Peer TLS (https on port 2380) of the new members: `secret` or `issueFrom`. Set it exactly when the old members use https peer URLs (preflight refuses a mismatch); without it peer traffic between the clusters is plain http, which the plan warns about.',
      ),
    client: certificateSourceSchema
      .optional()
      .describe(
        'Client TLS (https on port 2379) of the new members: `secret` or `issueFrom`. Set it exactly when the old members advertise https client URLs; the worker then talks https to every member (see `operator`).',
      ),
    operator: secretRefSchema
      .extend({
        ...tlsSecretKeys("the worker's client certificate"),
        caKey: secretKey
          .default('ca.crt')
          .describe(
            "Key of the Secret that holds the CA certificate that verifies the members' serving certificates (PEM).",
          ),
      })
      .optional()
      .describe(
        'The client certificate the worker presents to etcd (old and new members), and the CA it verifies them with. Needed when the members serve client TLS (`tls.client`), especially with `--client-cert-auth`. Per-cluster: the Secret must exist in both clusters.',
      ),
    peerSkipClientSanVerification: z
      .boolean()
      .default(false)
      .describe(
        "Start the new members with `--peer-skip-client-san-verification` (named as the source writes it, else as the new members' etcd names it: 3.4 and 3.5 know only `--experimental-peer-skip-client-san-verification`). Needed when peer connections arrive through load balancers that rewrite the source address (SNAT, proxies): etcd checks a peer certificate's SANs against the remote address, which is then the load balancer's. Peers are then admitted by CA (and `--peer-cert-allowed-cn`/`hostname` if set) only. Preflight warns when it may be needed; only with `tls.peer`.",
      ),
  })
  .describe(
    "TLS of the new members and of the worker's etcd connections, by Secret reference only: the spec is stored in Temporal history, so no certificate or key ever goes into it. Leave it out when the source etcd runs plain http.",
  );

const authSchema = z
  .strictObject({
    secret: secretRefSchema
      .extend({
        usernameKey: secretKey.default('username').describe('Key of the Secret that holds the user name.'),
        passwordKey: secretKey.default('password').describe('Key of the Secret that holds the password.'),
      })
      .describe(
        'Secret holding the etcd user the worker logs in as: root, or a user with the root role (membership changes need it). Per-cluster: the Secret must exist in both clusters.',
      ),
  })
  .describe(
    'etcd authentication, by Secret reference only. Leave it out when the source etcd has auth disabled.',
  );

/** What passing each gate lets happen (the spec reference and editors show it). */
const GATE_DESCRIPTIONS: Record<GateName, string> = {
  shrink: 'Before the old members are compacted and defragmented (only with `shrink.enabled`).',
  expose:
    "Before the new headless Service, the member load balancers on both sides and the new members' issued certificates are created.",
  dns: "Before each cluster's DNS learns the other side's member names (only across two clusters or namespaces).",
  join: 'Before the first new member starts and joins as a learner: from here the etcd cluster spans both clusters.',
  leader: 'Before leadership moves to `<target.statefulSet>-0`.',
  'switch-clients':
    "Before phase `retire`, which removes the old members: approve it once the clients use the new members' client URLs (the gate's title lists them). After it an abort no longer rolls back; it stops at the next safe point.",
  finalize:
    "Before the new StatefulSet's `--initial-cluster` is rewritten to the new members only, and the `soak`.",
  cleanup:
    "Before the old StatefulSet, its Service, the old members' load balancers and the target cluster's DNS entries are deleted (and what `cleanup` asks for besides).",
};

const gatesSchema = z
  .strictObject(
    Object.fromEntries(
      GATE_NAMES.map((gate) => [
        gate,
        z
          .enum(APPROVAL_MODES)
          .default(gate === 'switch-clients' || gate === 'cleanup' ? 'manual' : 'auto')
          .describe(GATE_DESCRIPTIONS[gate]),
      ]),
    ) as Record<GateName, z.ZodDefault<z.ZodEnum<{ manual: 'manual'; auto: 'auto' }>>>,
  )
  .describe(
    "Approval per phase-boundary gate, each named after what it opens: `manual` waits for an operator's approval (`etcd-stretch approve <id> <gate>`, or the `approve` signal or `approveGate` update), `auto` passes at once (recorded as approved by `auto`). A gate whose phase has no steps is not met. An abort at a gate before the client switch rolls back.",
  );

export const migrationSpecSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe(
        'JSON Schema of the spec for editors (`schema/migration-spec.schema.json`); ignored by etcd-stretch.',
      ),
    version: z.literal(SPEC_VERSION).describe('Version of the spec format: `1`, the only one so far.'),
    kind: z.literal(SPEC_KIND).describe('Always `EtcdMigration`.'),
    source: sourceSchema,
    target: targetSchema,
    dns: dnsSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    auth: authSchema.optional(),
    shrink: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "Compact, then defragment the old members one at a time (followers first, the leader last after moving leadership; see `minReclaimableBytes`), before the new members join: each learner's snapshot crosses the load balancers, so smaller is faster. Turn it off when the database is small, or when a defragment's pause is too much for the clients (a single-member source blocks while it runs).",
          ),
        keepRevisions: z
          .number()
          .int()
          .min(0)
          .default(1000)
          .describe(
            'How many of the newest revisions compaction keeps: it compacts to the current revision minus this. A watcher that resumes from an older revision gets `compacted` and must list again; raise it if your watchers lag further behind.',
          ),
        minReclaimableBytes: z
          .number()
          .int()
          .min(0)
          .default(1024 * 1024)
          .describe(
            "A member is defragmented only when compaction left at least this many bytes of its database file free (`0` defragments every member). Below it, a defragment would not make the learners' snapshot noticeably smaller, and sparing the leader spares the clients a leadership move: writes a follower forwards while leadership moves are dropped by etcd and wait for the client's timeout.",
          ),
      })
      .prefault({})
      .describe('Phase `shrink`: make the database small before it is copied to the new members.'),
    workers: workersSchema.prefault({}),
    gates: gatesSchema.prefault({}),
    soak: durationString
      .default('10m')
      .describe(
        'How long the new cluster runs alone, after phase `finalize` and before the cleanup gate, while the old PVCs are still there: problems should show before anything is deleted. A duration (`0s` skips it); an abort cuts it short.',
      ),
    deadlines: z
      .strictObject({
        step: positiveDuration
          .default('10m')
          .describe(
            "Longest time one step may take: the timeout of every Kubernetes, membership and observation activity (plus a minute's margin), and of a new member's pod start. Raise it for slow image pulls or volume provisioning, or for hashing a large keyspace.",
          ),
        catchUp: positiveDuration
          .default('30m')
          .describe(
            'Longest time a new learner may take to catch up with the leader (snapshot transfer and log replay across the load balancers) before the step fails. Raise it for large databases or slow links between the clusters.',
          ),
        loadBalancers: positiveDuration
          .default('15m')
          .describe(
            "Longest wait for one side's member load balancers to report their addresses (IP or hostname). Raise it where the cloud is slow to provision them.",
          ),
        dns: positiveDuration
          .default('5m')
          .describe(
            "Longest wait, per cluster, until that cluster's DNS answers the configured member names (per-cluster workers only; a single worker and `host-aliases` entries are not checked). CoreDNS takes a minute or two to reload.",
          ),
        workerPickup: positiveDuration
          .default('5m')
          .describe(
            "Longest wait for a worker to pick up preflight, the run's first activity, on its task queue (per-cluster: on each cluster's). Past it the run fails with `NoWorker`, naming the queue no worker polls and the worker to start; nothing was changed. Raise it when the workers start after the run (`etcd-stretch start --no-worker-check`).",
          ),
        approval: positiveDuration
          .optional()
          .describe(
            'Not in force yet: accepted, but a manual gate waits until it is approved or the run aborted, whatever this says.',
          ),
      })
      .prefault({})
      .describe(
        'Time limits, each a duration: numbers with units `ms`, `s`, `m`, `h`, `d`, e.g. `90s`, `1h30m`.',
      ),
    cleanup: z
      .strictObject({
        deletePVCs: z
          .boolean()
          .default(false)
          .describe(
            "Delete the old members' PersistentVolumeClaims at cleanup. They hold the old data, the way back; by default they are kept for you to delete once sure.",
          ),
        removeSourceClusterDns: z
          .boolean()
          .default(false)
          .describe(
            "Remove the source cluster's DNS entries for the new member names at cleanup. Off by default: clients in the source cluster may still reach the new members by those names.",
          ),
        deleteTargetMemberServices: z
          .boolean()
          .default(false)
          .describe(
            "Delete the new members' LoadBalancer Services at cleanup. Off by default: clients outside the target cluster (and the source cluster's DNS entries) may still use them.",
          ),
      })
      .prefault({})
      .describe(
        "Phase `cleanup`, after the cleanup gate, always deletes the old StatefulSet and its Service and, across two clusters or namespaces, the old members' load balancers and the target cluster's DNS entries for them; these say what else goes.",
      ),
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
