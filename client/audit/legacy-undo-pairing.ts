/**
 * Undo pairing for LEGACY histories only: runs recorded before activity inputs named their plan
 * step, i.e. histories in which no activity input carries `stepId` (nor `undoes`, see
 * `SpecInput` in core/activity-contract.ts). Such a history says which activity ran with which
 * input, not which step an undo reverses, so it is re-derived here from activity types and
 * inputs, with the rules the workflow of that time followed.
 *
 * Histories with `stepId` never come here: there a step is an undo when its input carries
 * `undoes`, and it reverses the step whose `stepId` that names (history.ts). Frozen: new undo
 * activities get `undoes` from the workflow, not a rule here.
 */
import { isObj, list, str } from './read-json.js';

/** A step as the legacy rules read it: its activity, decoded input and (when completed) result. */
export interface LegacyStep {
  activityType: string;
  input: unknown;
  output: unknown;
}

/**
 * Activities that only ever ran as undos of a saga entry: after a rollback's trigger, a step of
 * one of these types is a compensation (the cleanup phase's removeDns and deleteMemberServices
 * come after the client switch, when there is no rollback).
 */
const LEGACY_UNDO_TYPES: ReadonlySet<string> = new Set([
  'removeLearner',
  'shrinkTarget',
  'removeDns',
  'deleteIssuedCertificates',
  'deleteMemberServices',
  'deleteHeadlessService',
  'moveLeader',
]);

/** Whether a legacy step of this activity type, scheduled after a rollback's trigger, is an undo. */
export function isLegacyUndo(activityType: string): boolean {
  return LEGACY_UNDO_TYPES.has(activityType);
}

/**
 * The step a legacy undo reverses: the newest of `earlier` (the completed forward steps scheduled
 * before it, oldest first) that belongs to the same saga entry, or undefined.
 */
export function legacyUndoneStep<S extends LegacyStep>(
  undo: LegacyStep,
  earlier: readonly S[],
): S | undefined {
  const input = isObj(undo.input) ? undo.input : {};
  const newest = (pred: (s: S) => boolean) => earlier.filter(pred).at(-1);
  const sameSide = (type: string) => (s: S) =>
    s.activityType === type && isObj(s.input) && s.input.side === input.side;
  switch (undo.activityType) {
    case 'removeDns':
      return newest(sameSide('configureDns'));
    case 'deleteMemberServices':
      return newest(sameSide('ensureMemberServices'));
    case 'deleteHeadlessService':
      return newest(sameSide('ensureHeadlessService'));
    case 'deleteIssuedCertificates':
      return newest((s) => s.activityType === 'issueCertificates');
    case 'removeLearner':
    case 'shrinkTarget': {
      const members =
        undo.activityType === 'removeLearner' ? [str(input.member)] : list(input.removedMembers);
      return newest(
        (s) =>
          (s.activityType === 'addLearner' || s.activityType === 'scaleTarget') &&
          isObj(s.input) &&
          members.includes(str(s.input.member)),
      );
    }
    case 'moveLeader':
      return newest((s) => s.activityType === 'moveLeader' && isObj(s.output) && s.output.from === input.to);
    default:
      return undefined;
  }
}
