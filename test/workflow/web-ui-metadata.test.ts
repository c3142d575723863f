/**
 * What the Web UI shows of a run: each activity's summary (the plan step it runs or undoes), the
 * run's current details (phase, step, what it waits for), and the state and waiting-gate search
 * attributes the UI lists runs by (and the worker's gauges read). Then the history replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal } from '../../workflows/messages.js';
import { STATE_KEY, WAITING_GATE_KEY } from '../../workflows/search-attributes.js';
import { waitFor } from '../../sandbox/processes.js';
import { runningMigrations } from '../../worker/migration-gauges.js';
import { allGates, runWithFakes, startTestEnvironment, statusOf, workflowBundle } from './harness.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

interface Metadata {
  currentDetails?: string;
}

describe('Web UI metadata', () => {
  it('summaries name the plan step, details say what the run waits for, search attributes list it', async () => {
    const { result } = await runWithFakes(
      env,
      { gates: allGates('auto', { join: 'manual' }) },
      {},
      async (h) => {
        const atGate = await waitFor(
          'the run waiting at the join gate, in its search attributes',
          async () => {
            const d = await h.describe();
            const gate = d.typedSearchAttributes.get(WAITING_GATE_KEY);
            return gate === 'join' ? d : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        expect(atGate.typedSearchAttributes.get(STATE_KEY)).toBe('waiting-approval');
        const listed = await waitFor(
          'the run listed by its waiting gate',
          async () => {
            const ids: string[] = [];
            for await (const w of env.client.workflow.list({
              query: `EtcdMigrationWaitingGate='join' AND WorkflowId='${h.workflowId}'`,
            }))
              ids.push(w.workflowId);
            return ids.length > 0 ? ids : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        expect(listed).toEqual([h.workflowId]);
        // The worker's gauges read the same: phase, state, and the gate with the wait's start.
        const running = (await runningMigrations(env.client)).find((r) => r.workflowId === h.workflowId);
        const atJoin = await statusOf(h);
        expect(running).toEqual({
          workflowId: h.workflowId,
          phase: 'join',
          state: 'waiting-approval',
          gate: {
            name: 'join',
            since: atJoin.waitingFor?.kind === 'approval' ? atJoin.waitingFor.since : '?',
          },
        });
        const metadata = await h.query<Metadata>('__temporal_workflow_metadata');
        expect(metadata.currentDetails).toContain('**waiting-approval** in phase **join**');
        expect(metadata.currentDetails).toContain('waiting for approval at gate **join**');
        await h.signal(approveSignal, { gate: 'join', by: 'alice' });
        await h.result();
        return { status: await statusOf(h), described: await h.describe(), history: await h.fetchHistory() };
      },
    );
    const { status, described, history } = result;
    expect(status.workflowState).toBe('completed');
    expect(described.typedSearchAttributes.get(STATE_KEY)).toBe('completed');
    expect(described.typedSearchAttributes.get(WAITING_GATE_KEY)).toBeUndefined();

    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    const summaries = scheduled.map((e) => ({
      activity: e.activityTaskScheduledEventAttributes!.activityType!.name!,
      summary: e.userMetadata?.summary?.data
        ? (JSON.parse(Buffer.from(e.userMetadata.summary.data).toString()) as string)
        : undefined,
    }));
    // Every activity says what it does.
    expect(summaries.filter((s) => s.summary === undefined)).toEqual([]);
    const addLearners = summaries.filter((s) => s.activity === 'addLearner');
    expect(addLearners.length).toBeGreaterThan(0);
    // The plan step's own title, as the status shows it.
    const addTitles = status.plan!.steps.filter((p) => p.kind === 'add-learner').map((p) => p.title);
    expect(addLearners.map((s) => s.summary)).toEqual(addTitles.map((t) => `${t} [source]`));
    expect(summaries.find((s) => s.activity === 'scaleTarget')?.summary).toMatch(/\[target\]$/);
    expect(summaries.every((s) => s.summary!.length > 0 && !s.summary!.includes('\n'))).toBe(true);

    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, described.workflowId);
  });
});
