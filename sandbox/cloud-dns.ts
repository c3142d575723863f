/**
 * The sandbox's "public DNS": the names of load balancers that report a hostname (AWS style)
 * and the IPs behind them. Any pod of either cluster resolves any of them, as it would resolve
 * an ELB name through its cloud's resolver. Each cluster's node agent owns one file
 * (`<sandboxDir>/cloud-dns/<cluster>.json`), so the two agents never overwrite each other's
 * records; readers merge them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CLUSTERS, sandboxDir, type ClusterName } from './config.js';
import type { HostEntry } from './node-agent/dns-view.js';

/** hostname -> IP */
export type CloudDnsRecords = Record<string, string>;

export function cloudDnsDir(): string {
  return path.join(sandboxDir(), 'cloud-dns');
}

function recordsFile(cluster: ClusterName): string {
  return path.join(cloudDnsDir(), `${cluster}.json`);
}

/** Replaces one cluster's records atomically (readers never see half a file). */
export function writeCloudDnsRecords(cluster: ClusterName, records: CloudDnsRecords): void {
  const file = recordsFile(cluster);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(records, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function readCloudDnsRecords(cluster: ClusterName): CloudDnsRecords {
  try {
    return JSON.parse(fs.readFileSync(recordsFile(cluster), 'utf8')) as CloudDnsRecords;
  } catch {
    return {};
  }
}

/** Every cloud record of both clusters, as hosts-file entries (sorted, so the output is stable). */
export function cloudDnsEntries(): HostEntry[] {
  return CLUSTERS.flatMap((c) =>
    Object.entries(readCloudDnsRecords(c))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([hostname, ip]) => ({ ip, names: [hostname] })),
  );
}

export function resolveCloudName(hostname: string): string | undefined {
  return cloudDnsEntries().find((e) => e.names.includes(hostname))?.ip;
}
