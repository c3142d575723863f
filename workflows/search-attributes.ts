/**
 * Custom search attributes, so the Temporal UI and CLI can list migrations by phase, source and
 * target (`temporal workflow list --query "EtcdMigrationPhase='join'"`). They must be registered
 * with the namespace first: the worker does it on start, the dev server via `--search-attribute`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const PHASE_KEY = defineSearchAttributeKey('EtcdMigrationPhase', SearchAttributeType.KEYWORD);
export const SOURCE_KEY = defineSearchAttributeKey('EtcdMigrationSource', SearchAttributeType.KEYWORD);
export const TARGET_KEY = defineSearchAttributeKey('EtcdMigrationTarget', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [PHASE_KEY, SOURCE_KEY, TARGET_KEY];
