/** Compensations of a saga: registered as steps complete, run newest first. */
import type { Side } from '../core/activity-contract.js';

export interface Compensation {
  /** Replaces an earlier compensation with the same key in place (a join's undo grows as it proceeds). */
  key: string;
  title: string;
  run: () => Promise<unknown>;
  /**
   * The Kubernetes objects this undo deletes: in which cluster, made by which plan step, and what
   * stays there when the deletes cannot run (the rollback reports it and goes on).
   */
  kubernetes?: KubernetesUndo;
}

export interface KubernetesUndo {
  cluster: Side;
  step: string;
  leaves: string[];
}

export class Saga {
  private readonly stack: Compensation[] = [];

  register(c: Compensation): void {
    const at = this.stack.findIndex((e) => e.key === c.key);
    if (at >= 0) this.stack[at] = c;
    else this.stack.push(c);
  }

  /** Compensations registered since (and including) the one with `key`, removed from the stack, newest first. */
  takeFrom(key: string): Compensation[] {
    const at = this.stack.findIndex((e) => e.key === key);
    if (at < 0) return [];
    return this.stack.splice(at).reverse();
  }

  /**
   * Puts the compensations registered since the stack had `size` entries in the order of `keys`
   * (unknown keys last, as they were): steps that ran at the same time registered theirs in the
   * order they finished, and their undos should not depend on that.
   */
  orderSince(size: number, keys: readonly string[]): void {
    const rank = (c: Compensation) => {
      const at = keys.indexOf(c.key);
      return at < 0 ? keys.length : at;
    };
    const recent = this.stack.splice(size);
    this.stack.push(
      ...recent
        .map((c, i) => ({ c, i }))
        .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
        .map((x) => x.c),
    );
  }

  /** Everything, newest first, leaving the stack empty. */
  takeAll(): Compensation[] {
    return this.stack.splice(0).reverse();
  }

  clear(): void {
    this.stack.length = 0;
  }

  get size(): number {
    return this.stack.length;
  }
}
