import { describe, expect, it } from 'vitest';
import { GATE_WAIT_METRIC, MIGRATIONS_METRIC, gaugeSamples } from '../../worker/migration-gauges.js';

const now = new Date('2026-12-06T12:00:00Z');

describe('migration gauges', () => {
  it('count the running migrations by phase and state, and time each wait at a gate', () => {
    const samples = gaugeSamples(
      [
        { workflowId: 'a', phase: 'join', state: 'running' },
        { workflowId: 'b', phase: 'join', state: 'running' },
        {
          workflowId: 'c',
          phase: 'switch-clients',
          state: 'waiting-approval',
          gate: { name: 'switch-clients', since: '2026-12-06T10:00:00Z' },
        },
      ],
      now,
    );
    expect(samples).toEqual([
      { name: MIGRATIONS_METRIC, labels: { phase: 'join', state: 'running' }, value: 2 },
      { name: MIGRATIONS_METRIC, labels: { phase: 'switch-clients', state: 'waiting-approval' }, value: 1 },
      { name: GATE_WAIT_METRIC, labels: { workflow_id: 'c', gate: 'switch-clients' }, value: 7200 },
    ]);
  });

  it('sample 0 for what was sampled before and is gone, so a finished wait or run stops counting', () => {
    const before = gaugeSamples(
      [
        {
          workflowId: 'c',
          phase: 'join',
          state: 'waiting-approval',
          gate: { name: 'join', since: '2026-12-06T11:59:00Z' },
        },
      ],
      now,
    );
    const after = gaugeSamples([{ workflowId: 'c', phase: 'join', state: 'running' }], now, before);
    expect(after).toEqual([
      { name: MIGRATIONS_METRIC, labels: { phase: 'join', state: 'running' }, value: 1 },
      { name: MIGRATIONS_METRIC, labels: { phase: 'join', state: 'waiting-approval' }, value: 0 },
      { name: GATE_WAIT_METRIC, labels: { workflow_id: 'c', gate: 'join' }, value: 0 },
    ]);
  });
});
