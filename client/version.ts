/** The version `etcd-stretch --version` prints: package.json's, read where the CLI is installed. */
import fs from 'node:fs';

export function packageVersion(): string {
  // client/version.ts in the sources, dist/client/version.js once compiled.
  for (const relative of ['../package.json', '../../package.json']) {
    const file = new URL(relative, import.meta.url);
    if (fs.existsSync(file))
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  throw new Error(`no package.json above ${new URL('.', import.meta.url).pathname}`);
}
