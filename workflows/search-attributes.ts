/**
 * Custom search attributes, so the Temporal UI and CLI can list migrations by phase, state,
 * waiting gate, source and target (`temporal workflow list --query "EtcdMigrationPhase='join'"`,
 * `--query "EtcdMigrationWaitingGate='switch-clients'"`). They must be registered with the
 * namespace first: the worker does it on start, the dev server via `--search-attribute`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const PHASE_KEY = defineSearchAttributeKey('EtcdMigrationPhase', SearchAttributeType.KEYWORD);
export const SOURCE_KEY = defineSearchAttributeKey('EtcdMigrationSource', SearchAttributeType.KEYWORD);
export const TARGET_KEY = defineSearchAttributeKey('EtcdMigrationTarget', SearchAttributeType.KEYWORD);
/** The run's state (`status.workflowState`: running, waiting-approval, paused, rolled-back, ...). */
export const STATE_KEY = defineSearchAttributeKey('EtcdMigrationState', SearchAttributeType.KEYWORD);
/** The gate the run waits at for approval; absent when it waits at none. */
export const WAITING_GATE_KEY = defineSearchAttributeKey(
  'EtcdMigrationWaitingGate',
  SearchAttributeType.KEYWORD,
);

export const SEARCH_ATTRIBUTE_KEYS = [PHASE_KEY, SOURCE_KEY, TARGET_KEY, STATE_KEY, WAITING_GATE_KEY];
