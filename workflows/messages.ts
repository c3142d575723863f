/**
 * Signals, updates and queries of the migration workflow: defined once, imported by the
 * workflow and by every client (our CLI, tests). The Temporal CLI and Web UI use the same
 * names: `temporal workflow signal --name approve --input '{"gate":"switch-clients","by":"alice"}'`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GateName } from '../core/spec/schema.js';
import type { MigrationStatus } from './status.js';

export interface ApproveInput {
  /** The gate being approved (e.g. `switch-clients`); must be the one the workflow waits at. */
  gate: GateName;
  by: string;
  comment?: string;
}
export interface PauseInput {
  by: string;
  reason?: string;
}
export interface ResumeInput {
  by: string;
  comment?: string;
}
export interface AbortInput {
  by: string;
  reason: string;
}

export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const pauseSignal = defineSignal<[PauseInput]>('pause');
export const resumeSignal = defineSignal<[ResumeInput]>('resume');
export const abortSignal = defineSignal<[AbortInput]>('abort');

/** Like the approve signal, but refused unless the workflow is waiting at that gate. */
export const approveUpdate = defineUpdate<{ accepted: true; gate: GateName }, [ApproveInput]>('approveGate');

export const statusQuery = defineQuery<MigrationStatus>('status');

export const TASK_QUEUE = 'etcd-stretch';
export const WORKFLOW_TYPE = 'etcdMigration';
