/**
 * The child of remote-load-client.ts, run inside a client namespace or on the host: a LoadClient
 * driven by the JSON-line commands on stdin, each acknowledged on stdout, every operation
 * appended to the history file as it ends. A switch of endpoints is acknowledged once the
 * operation in flight (sent to the old ones) has ended. Stdin closing before a stop (the parent
 * is gone) ends it with code 1.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { LoadClient } from './load-client.js';
import { lagFileOf, type LoadCommand, type LoadReply, type WireLoadOptions } from './remote-load-client.js';
import { EventLoopLag } from './event-loop-lag.js';

let load: LoadClient | undefined;
let history: fs.WriteStream | undefined;
let lag: { recorder: EventLoopLag; file: string } | undefined;
let stopped = false;

function fromWire(opts: WireLoadOptions, file: string): LoadClient {
  const { tls, ...rest } = opts;
  history = fs.createWriteStream(file, { flags: 'w' });
  return new LoadClient({
    ...rest,
    ...(tls
      ? {
          tls: {
            ca: Buffer.from(tls.ca, 'base64'),
            ...(tls.cert ? { cert: Buffer.from(tls.cert, 'base64') } : {}),
            ...(tls.key ? { key: Buffer.from(tls.key, 'base64') } : {}),
            serverNames: tls.serverNames,
          },
        }
      : {}),
    onOperation: (op) => history!.write(JSON.stringify(op) + '\n'),
  });
}

function client(): LoadClient {
  if (!load) throw new Error('no init command yet');
  return load;
}

async function handle(c: LoadCommand): Promise<void> {
  switch (c.cmd) {
    case 'init':
      load = fromWire(c.options, c.historyFile);
      if (c.recordLag) lag = { recorder: new EventLoopLag().start(), file: lagFileOf(c.historyFile) };
      return;
    case 'warmUp':
      await client().warmUp(c.endpoints, c.serverNames);
      return;
    case 'start':
      client().start();
      return;
    case 'setEndpoints':
      client().setEndpoints(c.endpoints, c.serverNames);
      await client().settled();
      return;
    case 'stop':
      await client().stop();
      client().close();
      if (lag) fs.writeFileSync(lag.file, JSON.stringify(lag.recorder.stop()));
      await new Promise<void>((resolve, reject) => {
        history?.once('error', reject);
        if (history) history.end(resolve);
        else resolve();
      });
      stopped = true;
      return;
  }
}

function reply(r: LoadReply): void {
  process.stdout.write(JSON.stringify(r) + '\n');
}

readline
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    const c = JSON.parse(line) as LoadCommand;
    handle(c).then(
      () => reply({ id: c.id, ok: true }),
      (err: unknown) => reply({ id: c.id, error: err instanceof Error ? err.message : String(err) }),
    );
  })
  .on('close', () => process.exit(stopped ? 0 : 1));
