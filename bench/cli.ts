/**
 * Benchmarks in the shared sandbox (not tests: nothing here asserts a time).
 *
 *   npm run bench -- <methods|data-size|members|overhead|fleet|wan> [--quick] [--reps N] [--sizes a,b,c] [--rtts 0,20,80] [--etcd 3.5] [--soak 0s] [--steady 25s] [--ops N]
 *
 * Each suite writes bench/results/<suite>[-quick].json (machine, load average, every run) and
 * prints a Markdown table for the README's Performance section.
 */
import { isDeepStrictEqual } from 'node:util';
import { Command, InvalidArgumentError } from 'commander';
import { sandboxStatus } from '../sandbox/sandbox.js';
import { KIND_TOPOLOGY, readTopology } from '../sandbox/topology.js';
import { describeTopology } from '../sandbox/topology-options.js';
import { describeMachine } from './lib/machine.js';
import { publish } from './lib/results.js';
import { dataSizeSuite } from './suites/data-size.js';
import { fleetSuite } from './suites/fleet.js';
import { membersSuite } from './suites/members.js';
import { methodsSuite } from './suites/methods.js';
import { overheadSuite } from './suites/overhead.js';
import { wanSuite } from './suites/wan.js';
import type { SuiteContext, SuiteOutput } from './suites/suite.js';
import { ETCD_IMAGES, type EtcdMinor } from '../test/helpers/tls-sources.js';
import { formatDuration, parseDuration } from '../core/spec/duration.js';
import { STEADY_BEFORE_MS } from './lib/method-run.js';

const SUITES: Record<string, (ctx: SuiteContext) => Promise<SuiteOutput>> = {
  methods: methodsSuite,
  'data-size': dataSizeSuite,
  members: membersSuite,
  overhead: overheadSuite,
  fleet: fleetSuite,
  wan: wanSuite,
};

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${v}" is not a positive integer`);
  return n;
};
const etcdMinor = (v: string): EtcdMinor => {
  if (v === '3.4' || v === '3.5' || v === '3.6') return v;
  throw new InvalidArgumentError(`"${v}" is not an etcd version the sandbox runs (3.4, 3.5 or 3.6)`);
};
const msList = (v: string): number[] =>
  v.split(',').map((x) => {
    const n = Number(x);
    if (x.trim() === '' || !Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`"${x}" is not a whole number of milliseconds`);
    return n;
  });
const intList = (v: string): number[] => v.split(',').map(positiveInt);
const steadyDuration = (v: string): number => {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000) throw new InvalidArgumentError(`"${v}" is not a duration of 1s or more`);
  return ms;
};

const program = new Command('bench')
  .argument('<suite>', `one of ${Object.keys(SUITES).join(', ')}`)
  .option('--quick', 'small data, one repetition (to validate a suite)', false)
  .option('--reps <n>', 'repetitions (default 3, quick 1)', positiveInt)
  .option(
    '--sizes <list>',
    'data sizes in MB (data-size), member counts (members), migrations at once (fleet)',
    intList,
  )
  .option('--ops <n>', 'load client operations per second', positiveInt, 150)
  .option(
    '--from <file>',
    'overhead: analyse the stretch runs of an earlier result file (e.g. bench/results/methods.json)',
  )
  .option('--value-kib <n>', 'data-size: size of the values that grow the backend (default 64)', positiveInt)
  .option(
    '--snapshot-count <n>',
    "data-size: the source etcd's --snapshot-count (default: etcd's)",
    positiveInt,
  )
  .option(
    '--etcd <minor>',
    "etcd version of both clusters: 3.4 (the article's, default), 3.5 or 3.6",
    etcdMinor,
  )
  .option('--rtts <list>', 'wan: round trips between the clusters in ms (default 0,20,80)', msList)
  .option('--soak <duration>', "the stretch runs' soak, e.g. 0s (default 5s)")
  .option(
    '--steady <duration>',
    'methods and wan: how long the clients run before each migration, their steady state (default 5s)',
    steadyDuration,
  )
  .option('--name <name>', 'result file name (default: the suite, with -quick in quick mode)')
  .action(
    async (
      suite: string,
      o: {
        quick: boolean;
        reps?: number;
        sizes?: number[];
        ops: number;
        name?: string;
        from?: string;
        valueKib?: number;
        snapshotCount?: number;
        soak?: string;
        steady?: number;
        etcd?: EtcdMinor;
        rtts?: number[];
      },
    ) => {
      const run = SUITES[suite];
      if (!run) program.error(`unknown suite "${suite}": choose one of ${Object.keys(SUITES).join(', ')}`);
      if (!o.from && !(await sandboxStatus()).up)
        program.error('the sandbox is not running: start it with `npm run sandbox -- up`');
      // One worker on the host cannot wait for DNS as the pods see it (a DNS delay, hostname
      // load balancers): the first promote would wait for a name its voter cannot resolve yet.
      const topology = readTopology();
      if (!o.from && suite !== 'wan' && !isDeepStrictEqual(topology, KIND_TOPOLOGY))
        program.error(
          `the sandbox runs another topology (${describeTopology(topology).trim().replace(/\n/g, '; ')}; the demo and some fault runs leave theirs): ` +
            'the benchmarks need the plain one: `npm run sandbox -- down && npm run sandbox -- up`',
        );
      if (o.from && suite !== 'overhead') program.error('--from is for the overhead suite only');
      if (o.steady !== undefined && suite !== 'methods' && suite !== 'wan')
        program.error('--steady is for the methods and wan suites only');
      const machine = describeMachine();
      const startedAt = new Date().toISOString();
      const say = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
      const out = await run!({
        quick: o.quick,
        reps: o.reps ?? (o.quick ? 1 : 3),
        opsPerSecond: o.ops,
        sizes: o.sizes,
        from: o.from,
        valueKiB: o.valueKib,
        snapshotCount: o.snapshotCount,
        soak: o.soak,
        steadyBeforeMs: o.steady,
        etcd: o.etcd,
        rttsMs: o.rtts,
        say,
      });
      publish(o.name ?? (o.quick ? `${suite}-quick` : suite), {
        suite,
        quick: o.quick,
        startedAt,
        machine,
        notes: [
          ...(out.notes ?? []),
          ...(o.from
            ? []
            : [
                `Stretch runs with soak ${o.soak ?? '5s'}.`,
                `The clients' steady state: the ${formatDuration(o.steady ?? STEADY_BEFORE_MS)} before each migration.`,
                `etcd ${o.etcd ?? '3.4'} in every cluster (image ${ETCD_IMAGES[o.etcd ?? '3.4']}).`,
              ]),
          'A shared 2-core VM: other work may run beside a benchmark; the load average at start and end says how much. Read the numbers as relative.',
        ],
        table: out.table,
        runs: out.runs,
        summary: out.summary,
      });
    },
  );

await program.parseAsync();
process.exit(0);
