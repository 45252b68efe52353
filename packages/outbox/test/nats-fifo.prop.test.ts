/** The NATS subscriber's FIFO against an array model. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from '../src/adapters/nats/fifo.js';

describe('Fifo (NATS subscriber queue)', () => {
  it('behaves like an array used as a queue', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant<'shift'>('shift'), fc.constant<'burst'>('burst')), { maxLength: 400 }), (ops) => {
        const q = new Fifo<number>();
        const model: number[] = [];
        let k = 0;
        for (const op of ops) {
          if (op === 'shift') {
            expect(q.shift()).toBe(model.shift());
          } else if (op === 'burst') {
            // enough pushes and shifts to cross the compaction threshold
            for (let i = 0; i < 1500; i++) {
              q.push(k);
              model.push(k++);
            }
            for (let i = 0; i < 1400; i++) expect(q.shift()).toBe(model.shift());
          } else {
            q.push(op);
            model.push(op);
          }
          expect(q.length).toBe(model.length);
        }
        while (model.length > 0) expect(q.shift()).toBe(model.shift());
        expect(q.shift()).toBeUndefined();
        expect(q.length).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
