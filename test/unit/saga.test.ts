import { describe, expect, it } from 'vitest';
import { Saga, type Compensation } from '../../workflows/saga.js';

const undo = (key: string): Compensation => ({ key, title: key, run: () => Promise.resolve() });
const keys = (saga: Saga) => saga.takeAll().map((c) => c.key);

describe('Saga.orderSince', () => {
  it('puts what steps run together registered in plan order, leaving earlier entries alone', () => {
    const saga = new Saga();
    saga.register(undo('shrink'));
    const mark = saga.size;
    // Finished in the other order than the plan's.
    saga.register(undo('expose/target/create-member-services'));
    saga.register(undo('expose/source/create-member-services'));
    saga.orderSince(mark, ['expose/source/create-member-services', 'expose/target/create-member-services']);
    expect(keys(saga)).toEqual([
      'expose/target/create-member-services',
      'expose/source/create-member-services',
      'shrink',
    ]);
  });

  it('keeps entries of unknown keys last, in the order they came', () => {
    const saga = new Saga();
    saga.register(undo('b'));
    saga.register(undo('x'));
    saga.register(undo('a'));
    saga.register(undo('y'));
    saga.orderSince(0, ['a', 'b']);
    expect(keys(saga)).toEqual(['y', 'x', 'b', 'a']);
  });
});
