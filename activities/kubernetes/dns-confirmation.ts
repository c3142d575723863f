/**
 * Waits until this process resolves the member names the way the DNS step configured them, so
 * that no member is added before its name resolves where it matters. A changed Corefile
 * reaches CoreDNS only after the kubelet syncs the ConfigMap and `reload` notices (a minute or
 * two), and negative answers are cached meanwhile: the entries being written says nothing about
 * what pods resolve.
 *
 * Names go through `dns.lookup` (getaddrinfo: /etc/hosts, then the resolv.conf search list and
 * name servers), as a pod's libc resolver does. A name is confirmed when it resolves and every
 * address it resolves to is one the entry wants: its IP, or, for a load balancer known by name,
 * an address that name itself resolves to now (a subset, because a cloud may hand out the
 * addresses of one load balancer in turns).
 *
 * It proves something only in a process that resolves through that cluster's DNS: a worker
 * running as a pod of it (per-cluster workers). It needs no permission: nothing is read from
 * the API server.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RunContext } from '../run-context.js';
import type { HostEntry } from './corefile-hosts.js';
import { waitUntil } from './pods.js';

/** All addresses a name resolves to (empty when it does not). */
export type ResolveName = (name: string) => Promise<string[]>;

export const libcResolve: ResolveName = async (name) => {
  try {
    return (await lookup(name, { all: true })).map((a) => a.address);
  } catch {
    return []; // ENOTFOUND, EAI_AGAIN, ...: not (yet) resolvable
  }
};

export interface DnsConfirmationInput {
  entries: HostEntry[];
  /** What to call the cluster in messages (`source cluster (context x)`). */
  where: string;
  timeoutMs: number;
  resolve?: ResolveName;
  rc: RunContext;
  intervalMs?: number;
}

interface Look {
  name: string;
  got: string[];
  want: string[];
}

function confirmed(look: Look): boolean {
  return look.got.length > 0 && look.got.every((a) => look.want.includes(a));
}

function describe(look: Look): string {
  const got = look.got.length ? look.got.join(' ') : 'nothing';
  const want = look.want.length ? look.want.join(' ') : 'nothing yet';
  return `${look.name} -> ${got} (want ${want})`;
}

/** Resolves every name until each is confirmed; fails with DeadlineExceeded naming the rest. */
export async function awaitDnsResolution(
  input: DnsConfirmationInput,
): Promise<{ resolved: Record<string, string[]>; tookMs: number }> {
  const resolve = input.resolve ?? libcResolve;
  const started = Date.now();
  let looks: Look[] = [];
  await waitUntil(
    input.rc,
    `the DNS of the ${input.where} to answer ${input.entries.flatMap((e) => e.hostnames).join(', ')}`,
    input.timeoutMs,
    async () => {
      looks = [];
      for (const entry of input.entries) {
        const want = isIP(entry.ip) ? [entry.ip] : await resolve(entry.ip);
        for (const name of new Set(entry.hostnames)) looks.push({ name, got: await resolve(name), want });
      }
      return looks.every(confirmed) ? true : undefined;
    },
    {
      progress: () => {
        const pending = looks.filter((l) => !confirmed(l));
        return { waitingFor: 'dns', pending: pending.map((l) => l.name), seen: pending.map(describe) };
      },
      intervalMs: input.intervalMs ?? 2000,
    },
  );
  return { resolved: Object.fromEntries(looks.map((l) => [l.name, l.got])), tookMs: Date.now() - started };
}
