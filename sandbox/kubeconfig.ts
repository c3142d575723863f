import fs from 'node:fs';
import YAML from 'yaml';
import type { ClientCert } from './pki.js';

export interface KubeconfigEntry {
  context: string;
  server: string;
  caCert: string;
  user: ClientCert;
}

/** A kubeconfig with one context per entry; certificates are referenced by path. */
export function renderKubeconfig(entries: KubeconfigEntry[], currentContext?: string): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: entries.map((e) => ({
      name: e.context,
      cluster: { server: e.server, 'certificate-authority': e.caCert },
    })),
    users: entries.map((e) => ({
      name: `${e.context}-admin`,
      user: { 'client-certificate': e.user.cert, 'client-key': e.user.key },
    })),
    contexts: entries.map((e) => ({
      name: e.context,
      context: { cluster: e.context, user: `${e.context}-admin`, namespace: 'default' },
    })),
    'current-context': currentContext ?? entries[0]?.context ?? '',
  });
}

export function writeKubeconfig(file: string, entries: KubeconfigEntry[], currentContext?: string): void {
  fs.writeFileSync(file, renderKubeconfig(entries, currentContext), { mode: 0o600 });
}
