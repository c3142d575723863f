/**
 * The maps of the code stay true: the README's layout table names exactly the top-level folders,
 * and every path docs/architecture.md names exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const readme = fs.readFileSync('README.md', 'utf8');
const architecture = fs.readFileSync(path.join('docs', 'architecture.md'), 'utf8');

function layoutFolders(): string[] {
  const section = readme.slice(
    readme.indexOf('## Layout'),
    readme.indexOf('\n## ', readme.indexOf('## Layout') + 1),
  );
  return [...section.matchAll(/^\| `([a-z-]+)\/` /gm)].map((m) => m[1]!);
}

describe('code map', () => {
  it("the README's layout table lists every top-level folder, and only those", () => {
    const tracked = execFileSync('git', ['ls-files'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.includes('/') && !f.startsWith('.'))
      .map((f) => f.split('/')[0]!);
    expect(layoutFolders().sort()).toEqual([...new Set(tracked)].sort());
  });

  it('every file and folder docs/architecture.md names in a table exists', () => {
    // Names in a table's first column are relative to the section's folder (`## core/: ...`).
    const named: string[] = [];
    let folder = '';
    for (const line of architecture.split('\n')) {
      folder = /^## ([a-z-]+)\//.exec(line)?.[1] ?? folder;
      if (!line.startsWith('| `')) continue;
      for (const [, name] of line.split('|')[1]!.matchAll(/`([^`]+)`/g)) {
        // `steps/<kind>.ts` stands for a folder's files: the folder must exist.
        named.push(path.join(folder, name!.includes('<') ? path.dirname(name!) : name!));
      }
    }
    expect(named.length).toBeGreaterThan(20);
    for (const file of named) expect(fs.existsSync(file), file).toBe(true);
  });
});
