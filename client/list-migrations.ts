/**
 * `list`: the migrations Temporal knows, newest first, with their state, phase and what they wait
 * for. Temporal's visibility finds the runs (workflow type, execution status, the phase search
 * attribute); a running run's state and what it waits for come from its status query (a worker
 * answers it; without one, from the state and gate search attributes the run upserts), a closed
 * run's ending from Temporal (run-ending.ts).
 */
import type { Client, Connection, WorkflowExecutionInfo } from '@temporalio/client';
import type { PhaseName } from '../core/planner/plan-types.js';
import type { GateName } from '../core/spec/schema.js';
import { statusQuery } from '../workflows/messages.js';
import {
  PHASE_KEY,
  SOURCE_KEY,
  STATE_KEY,
  TARGET_KEY,
  WAITING_GATE_KEY,
} from '../workflows/search-attributes.js';
import type { RunState, WaitingFor } from '../workflows/status.js';
import { closedRunEnding } from './run-ending.js';

/** The states of a run that has not ended. */
const OPEN_LIST_STATES = [
  'preflight',
  'running',
  'waiting-approval',
  'paused',
  'soaking',
  'rolling-back',
] as const;

/** What `--state` accepts: the workflow's states, and `terminated` for a run Temporal ended. */
export const LIST_STATES = [
  ...OPEN_LIST_STATES,
  'completed',
  'aborted',
  'rolled-back',
  'stopped',
  'failed',
  'terminated',
] as const satisfies readonly (RunState | 'terminated')[];
export type ListState = (typeof LIST_STATES)[number];

const OPEN_STATES: ReadonlySet<ListState> = new Set(OPEN_LIST_STATES);

/** Temporal's execution statuses a run in each closed state has. */
const CLOSED_STATUSES: Partial<Record<ListState, string[]>> = {
  completed: ['Completed'],
  aborted: ['Completed'],
  stopped: ['Completed'],
  'rolled-back': ['Failed'],
  failed: ['Failed'],
  terminated: ['Terminated', 'Canceled', 'TimedOut'],
};

export interface ListFilters {
  state?: ListState;
  phase?: PhaseName;
  /** Only runs waiting for approval: at this gate, or (`true`) at any. */
  waiting?: GateName | true;
  limit: number;
}

export interface MigrationRow {
  workflowId: string;
  runId: string;
  /** The workflow's state; `terminated` for a run Temporal ended; `unknown` if no worker answered. */
  state: ListState | 'unknown';
  phase: string | null;
  /** The gate a running run waits at for approval. */
  waitingGate: string | null;
  /** What a running run waits for (approval at a gate, a resume, a soak, DNS), if a worker said. */
  waitingFor: WaitingFor | null;
  source: string | null;
  target: string | null;
  startTime: string;
  closeTime: string | null;
  /** Why a run ended (its result or failure), or why its state is unknown. */
  message?: string;
}

/** The visibility query for `filters` (the state and gate are checked on each run as well). */
export function visibilityQuery(workflowType: string, filters: Omit<ListFilters, 'limit'>): string {
  const clauses = [`WorkflowType = '${workflowType}'`];
  if (filters.phase) clauses.push(`${PHASE_KEY.name} = '${filters.phase}'`);
  const statuses =
    filters.waiting || (filters.state && OPEN_STATES.has(filters.state))
      ? ['Running']
      : filters.state
        ? CLOSED_STATUSES[filters.state]
        : undefined;
  if (statuses)
    clauses.push(
      statuses.length === 1
        ? `ExecutionStatus = '${statuses[0]}'`
        : `ExecutionStatus IN (${statuses.map((s) => `'${s}'`).join(', ')})`,
    );
  return clauses.join(' AND ');
}

export function matches(row: MigrationRow, filters: Omit<ListFilters, 'limit'>): boolean {
  if (filters.state && row.state !== filters.state) return false;
  if (filters.phase && row.phase !== filters.phase) return false;
  if (filters.waiting) {
    if (!row.waitingGate) return false;
    if (filters.waiting !== true && row.waitingGate !== filters.waiting) return false;
  }
  return true;
}

/** How long a running run's worker has to answer the status query. */
const QUERY_TIMEOUT_MS = 5_000;

async function rowOf(
  client: Client,
  connection: Connection,
  info: WorkflowExecutionInfo,
): Promise<MigrationRow> {
  const handle = client.workflow.getHandle(info.workflowId, info.runId);
  const base = {
    workflowId: info.workflowId,
    runId: info.runId,
    phase: info.typedSearchAttributes.get(PHASE_KEY) ?? null,
    source: info.typedSearchAttributes.get(SOURCE_KEY) ?? null,
    target: info.typedSearchAttributes.get(TARGET_KEY) ?? null,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString() ?? null,
  };
  const closed = await closedRunEnding(handle, info.status.name).catch((err: unknown) => ({
    ending: 'unknown' as const,
    message: `no ending: ${(err as Error).message}`,
  }));
  if (closed)
    return {
      ...base,
      state: closed.ending,
      waitingGate: null,
      waitingFor: null,
      ...(closed.message ? { message: closed.message } : {}),
    };
  try {
    const s = await connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(statusQuery));
    return {
      ...base,
      state: s.workflowState,
      phase: s.phase ?? base.phase,
      waitingGate: s.waitingFor?.kind === 'approval' ? s.waitingFor.gate : null,
      waitingFor: s.waitingFor,
    };
  } catch (err) {
    const state = info.typedSearchAttributes.get(STATE_KEY);
    return {
      ...base,
      state: (LIST_STATES as readonly string[]).includes(state ?? '') ? (state as ListState) : 'unknown',
      waitingGate: info.typedSearchAttributes.get(WAITING_GATE_KEY) || null,
      waitingFor: null,
      message: `no worker answered the status query (${(err as Error).message}): state and gate from the search attributes`,
    };
  }
}

export async function listMigrations(
  client: Client,
  connection: Connection,
  workflowType: string,
  filters: ListFilters,
): Promise<MigrationRow[]> {
  const query = visibilityQuery(workflowType, filters);
  const rows: MigrationRow[] = [];
  // Pages of runs, each page's rows read at once, until `limit` runs match.
  let page: WorkflowExecutionInfo[] = [];
  const flush = async () => {
    const read = await Promise.all(page.map((info) => rowOf(client, connection, info)));
    rows.push(...read.filter((row) => matches(row, filters)));
    page = [];
  };
  for await (const info of client.workflow.list({ query, pageSize: 100 })) {
    page.push(info);
    if (page.length >= 20) await flush();
    if (rows.length >= filters.limit) break;
  }
  await flush();
  return rows.slice(0, filters.limit);
}

function waitingText(row: MigrationRow): string {
  const w = row.waitingFor;
  if (!w) return row.waitingGate ? `approval at gate ${row.waitingGate}` : '-';
  switch (w.kind) {
    case 'approval':
      return `approval at gate ${w.gate} since ${w.since}`;
    case 'resume':
      return `resume (paused by ${w.by})`;
    case 'soak':
      return `soak until ${w.until}`;
    case 'dns':
      return `${w.cluster} DNS`;
    case 'activity':
      return `step ${w.step}`;
    case 'forward':
      return `run ${w.workflowId} (finishing the migration before)`;
  }
}

/** A table: one run a line. */
export function renderMigrationList(rows: MigrationRow[]): string {
  if (rows.length === 0) return 'no migrations match';
  const table = [
    ['WORKFLOW ID', 'STATE', 'PHASE', 'WAITING FOR', 'STARTED'],
    ...rows.map((r) => [r.workflowId, r.state, r.phase ?? '-', waitingText(r), r.startTime]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
