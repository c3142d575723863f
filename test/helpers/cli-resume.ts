/**
 * A resumed run started as an operator starts it: `etcd-stretch start --resume <spec> --watch`,
 * the installed command (client/etcd-stretch.mjs) spawned with the spec in a YAML file, against
 * a Temporal frontend by address. The workflow ID is the one the CLI derives from the spec.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../../sandbox/config.js';

const BIN = path.join(REPO_ROOT, 'client', 'etcd-stretch.mjs');

export interface CliResume {
  /** The CLI's exit code: 0 only when the watched run completed (client/exit-codes.ts). */
  exitCode: number | null;
  workflowId: string;
  /** What it printed to stderr (why it did not start, or failed). */
  stderr: string;
}

export async function resumeThroughCli(opts: {
  address: string;
  taskQueue: string;
  spec: Record<string, unknown>;
  say: (line: string) => void;
}): Promise<CliResume> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-stretch-resume-'));
  const specPath = path.join(dir, 'migration.yaml');
  fs.writeFileSync(specPath, YAML.stringify(opts.spec));
  const child = spawn(
    process.execPath,
    [BIN, '--address', opts.address, '-o', 'json', 'start', '--resume', specPath, '--watch'],
    {
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))),
        // No Temporal config file of this machine's user.
        HOME: dir,
        ETCD_STRETCH_TASK_QUEUE: opts.taskQueue,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let workflowId = '';
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      let event: { type?: string; workflowId?: string };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        continue; // JSON Lines throughout; anything else is not ours to read
      }
      if (event.type === 'started' && event.workflowId) {
        workflowId = event.workflowId;
        opts.say(`etcd-stretch start --resume started ${workflowId}`);
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  return { exitCode, workflowId, stderr };
}
