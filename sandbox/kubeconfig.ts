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

/** A kubeconfig with one context that authenticates with a bearer token; the CA is embedded. */
export function renderTokenKubeconfig(e: {
  context: string;
  server: string;
  caCert: string;
  token: string;
  user: string;
  namespace: string;
}): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: e.context,
        cluster: { server: e.server, 'certificate-authority-data': fs.readFileSync(e.caCert, 'base64') },
      },
    ],
    users: [{ name: e.user, user: { token: e.token } }],
    contexts: [{ name: e.context, context: { cluster: e.context, user: e.user, namespace: e.namespace } }],
    'current-context': e.context,
  });
}
