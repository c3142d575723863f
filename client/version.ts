/** The version `etcd-stretch --version` prints: package.json's, read where the CLI is installed. */
import fs from 'node:fs';

export function packageVersion(): string {
  const file = new URL('../package.json', import.meta.url);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}
