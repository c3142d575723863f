import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { V1Probe } from '@kubernetes/client-node';

export type ProbeResult = { ok: true } | { ok: false; message: string };

interface Target {
  /** Main process of the container: exec probes run in its namespaces. */
  pid: number;
  podIp: string;
  env: Record<string, string>;
}

function execProbe(command: string[], target: Target, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const env = Object.entries(target.env).map(([k, v]) => `${k}=${v}`);
    const child = spawn(
      'nsenter',
      ['--target', String(target.pid), '--net', '--mount', '--uts', '--', 'env', '-i', ...env, ...command],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: err.message });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true });
      else
        resolve({
          ok: false,
          message: signal ? `timed out after ${timeoutMs} ms` : `exit ${code}: ${output.trim().slice(-300)}`,
        });
    });
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve({ ok: true });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ ok: false, message: 'timeout' });
    });
    s.once('error', (e) => resolve({ ok: false, message: e.message }));
  });
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true } : { ok: false, message: `HTTP ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, message: e.message }));
  });
}

export function runProbe(probe: V1Probe, target: Target): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec?.command?.length) return execProbe(probe.exec.command, target, timeoutMs);
  if (probe.tcpSocket) return tcpProbe(target.podIp, Number(probe.tcpSocket.port), timeoutMs);
  if (probe.httpGet)
    return httpProbe(target.podIp, Number(probe.httpGet.port), probe.httpGet.path ?? '/', timeoutMs);
  return Promise.resolve({ ok: true });
}
