/**
 * Defensive readers for decoded history payloads (activity inputs and results, signal and
 * update arguments): an older or newer history may carry other shapes.
 */

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
export const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** The plan step a forward activity call runs (`SpecInput.stepId`), when its input names it. */
export const stepIdOf = (input: unknown): string | undefined =>
  isObj(input) ? str(input.stepId) : undefined;

/** The plan step an undo call reverses (`SpecInput.undoes`), when its input names it. */
export const undoesOf = (input: unknown): string | undefined =>
  isObj(input) ? str(input.undoes) : undefined;
