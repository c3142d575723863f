/**
 * Which processes the CPU went to while a benchmark ran: etcd members, the sandbox's control
 * planes and node agents, the Temporal dev server, this process (the worker and the load
 * clients), from /proc, sampled every second so that pods that come and go are counted too (a
 * process that exits loses at most its last second).
 */
import { readdir, readFile } from 'node:fs/promises';

export const CPU_GROUPS = [
  'etcd members',
  'control planes',
  'node agents',
  'temporal server',
  'bench process (worker, load clients)',
  'other',
] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];

export interface CpuUsage {
  wallMs: number;
  /** CPU seconds each group used during the window. */
  cpuSeconds: Record<CpuGroup, number>;
  /** The whole machine's busy time during the window, in cores (of `cores`). */
  machineBusyCores: number;
  cores: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on

export interface ProcessSample {
  pid: number;
  comm: string;
  args: string;
  ticks: number;
}

/** The group a process belongs to, by its name and command line (pure). */
export function cpuGroupOf(p: Pick<ProcessSample, 'pid' | 'comm' | 'args'>, self: number): CpuGroup {
  if (p.pid === self) return 'bench process (worker, load clients)';
  if (/^kube-/.test(p.comm) || /--name=\S*-control-plane\b/.test(p.args)) return 'control planes';
  if (p.comm.startsWith('etcd')) return 'etcd members';
  if (p.args.includes('sandbox/node-agent')) return 'node agents';
  if (p.comm === 'temporal') return 'temporal server';
  return 'other';
}

/** utime + stime of one /proc/<pid>/stat line (the name in parentheses may hold spaces). */
export function ticksOf(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, utime field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

async function sampleProcesses(): Promise<ProcessSample[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  const samples = await Promise.all(
    pids.map(async (d): Promise<ProcessSample | undefined> => {
      try {
        const [stat, cmdline] = await Promise.all([
          readFile(`/proc/${d}/stat`, 'utf8'),
          readFile(`/proc/${d}/cmdline`, 'utf8'),
        ]);
        if (!cmdline) return undefined; // a kernel thread
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        return { pid: Number(d), comm, args: cmdline.split('\0').join(' '), ticks: ticksOf(stat) };
      } catch {
        return undefined; // exited while we looked
      }
    }),
  );
  return samples.filter((s) => s !== undefined);
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
async function machineTicks(): Promise<{ busy: number; total: number; cores: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  const [cpu, ...rest] = text.split('\n');
  const v = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3]! + v[4]!; // idle + iowait
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, cores: rest.filter((l) => /^cpu\d+ /.test(l)).length };
}

export interface CpuSampler {
  stop(): Promise<CpuUsage>;
}

export async function startCpuSampler(everyMs = 1000): Promise<CpuSampler> {
  const self = process.pid;
  const started = Date.now();
  const machineStart = await machineTicks();
  // Running now: counted from now. Started later (pods come and go): counted whole.
  const baseline = new Map((await sampleProcesses()).map((s) => [s.pid, s.ticks]));
  const last = new Map<number, ProcessSample>();
  const take = async () => {
    for (const s of await sampleProcesses()) last.set(s.pid, s);
  };
  let sampling = take();
  const timer = setInterval(() => {
    sampling = sampling.then(take);
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      await take();
      const machineEnd = await machineTicks();
      const cpuSeconds = Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as Record<CpuGroup, number>;
      for (const [pid, s] of last)
        cpuSeconds[cpuGroupOf(s, self)] += (s.ticks - (baseline.get(pid) ?? 0)) / TICKS_PER_SECOND;
      return {
        wallMs: Date.now() - started,
        cpuSeconds,
        machineBusyCores:
          ((machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total)) *
          machineEnd.cores,
        cores: machineEnd.cores,
      };
    },
  };
}
