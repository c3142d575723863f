import { sandboxDown, sandboxStatus, sandboxUp } from '../../sandbox/sandbox.js';

// One sandbox for the whole project: bringing two control planes up per file would cost minutes.
// ETCD_STRETCH_REUSE_SANDBOX=1 keeps an already running sandbox (for quick local iterations).
export default async function setup(): Promise<() => Promise<void>> {
  const reuse = process.env.ETCD_STRETCH_REUSE_SANDBOX === '1' && (await sandboxStatus()).up;
  if (!reuse) {
    const r = await sandboxUp();
    process.stderr.write(`sandbox up in ${(r.durationMs / 1000).toFixed(1)} s\n`);
  }
  return async () => {
    if (!reuse) await sandboxDown({ quiet: true });
  };
}
