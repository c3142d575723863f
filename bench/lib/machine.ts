/** What the numbers were measured on: a shared machine, so the load average goes with every result. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { toolPath } from '../../sandbox/config.js';

export interface MachineDescription {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  etcd: string;
  temporal: string;
  loadAvgStart: number[];
}

function versionOf(tool: string, args: string[]): string {
  try {
    return execFileSync(toolPath(tool), args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): MachineDescription {
  return {
    hostname: os.hostname(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: +(os.totalmem() / 1024 ** 3).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    etcd: versionOf('etcd-3.4', ['--version']),
    temporal: versionOf('temporal', ['--version']),
    loadAvgStart: loadAvg(),
  };
}

export const loadAvg = (): number[] => os.loadavg().map((l) => +l.toFixed(2));

export function machineLine(m: MachineDescription, loadAvgEnd: number[]): string {
  return (
    `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, ${m.etcd}; ` +
    `load average (1/5/15 min) ${m.loadAvgStart.join('/')} at start, ${loadAvgEnd.join('/')} at end`
  );
}
