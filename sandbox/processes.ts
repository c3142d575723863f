import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function run(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
}

/** Starts a long-running process detached from this one, logging to a file and recording its pid. */
export function startDaemon(
  name: string,
  cmd: string,
  args: string[],
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Daemon {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'pids'), { recursive: true });
  const logFile = path.join(dir, 'logs', `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  child.unref();
  fs.writeFileSync(path.join(dir, 'pids', `${name}.pid`), String(child.pid));
  return { name, pid: child.pid, logFile };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; onTimeout?: () => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const extra = opts.onTimeout?.() ?? (lastError instanceof Error ? lastError.message : '');
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${extra ? `: ${extra}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** Sends SIGTERM to a process group, then SIGKILL after the grace period. */
export async function stopProcessGroup(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (!isAlive(pid)) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) signal('SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

/** Stops the daemon recorded in dir/pids/<name>.pid, if it runs. */
export async function stopDaemon(dir: string, name: string, graceMs: number): Promise<boolean> {
  const pidFile = path.join(dir, 'pids', `${name}.pid`);
  if (!fs.existsSync(pidFile)) return false;
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const running = Number.isInteger(pid) && pid > 1 && isAlive(pid);
  if (running) await stopProcessGroup(pid, graceMs);
  fs.rmSync(pidFile, { force: true });
  return running;
}

export function tailFile(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
