/**
 * Fault run 2: the Temporal server (dev server with a database file) is killed while the new
 * members join, and started again on the same file. Workers and clients reconnect; the run
 * resumes where it was and completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { runAcceptanceScenario } from '../helpers/acceptance.js';
import { expectCompletedSafely } from '../helpers/fault-expectations.js';
import { recordFaultRun } from '../helpers/fault-report.js';
import { supervisedWorkers } from '../helpers/worker-hosts.js';
import { PersistentDevServer } from '../helpers/temporal-server.js';

let server: PersistentDevServer;
let connection: Connection;
beforeAll(async () => {
  server = await PersistentDevServer.start();
  connection = await Connection.connect({ address: server.address });
});
afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

describe('fault: the Temporal server restarts during the join', () => {
  it('the workers reconnect, the run resumes and completes', async () => {
    const client = new Client({ connection });
    const exits: { at: string; pid: number; how: string }[] = [];
    let restartedAt = 0;
    let recoveredAt = 0;
    let joinStepsDoneAtRestart = -1;
    const r = await runAcceptanceScenario({
      client,
      // The workers are processes of their own (worker/main.ts), as in production.
      workers: supervisedWorkers({ address: server.address, exits }),
      onStatus: async ({ status, say }) => {
        const join = status.plan?.steps.filter((s) => s.phase === 'join') ?? [];
        const done = join.filter((s) => s.state === 'done').length;
        if (!restartedAt && status.phase === 'join' && done >= 2) {
          joinStepsDoneAtRestart = done;
          say(`killing the Temporal server (${done} join steps done)`);
          await server.restart(3000);
          restartedAt = Date.now();
          say('Temporal server back');
        }
        if (restartedAt && !recoveredAt && done > joinStepsDoneAtRestart) recoveredAt = Date.now();
      },
    });
    recordFaultRun('temporal-server-restart', '2. Temporal server killed and restarted during the join', r, {
      recoveryMs: recoveredAt && restartedAt ? recoveredAt - restartedAt : null,
      notes: [`worker exits: ${exits.map((e) => e.how).join(', ') || 'none'}`],
    });
    expect(server.restarts).toHaveLength(1);
    expect(recoveredAt, 'join steps completed after the restart').toBeGreaterThan(0);
    expectCompletedSafely(r);
  });
});
