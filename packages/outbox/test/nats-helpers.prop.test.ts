/** The NATS transport's helpers against simple models: the subscriber's FIFO and the publisher's rounds and chains. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvent, type OutboxEvent } from '@dataplane/outbox';
import { Fifo } from '../src/adapters/nats/fifo.js';
import { chainAfter, splitRounds } from '../src/adapters/nats/rounds.js';

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
      { numRuns: 60 },
    );
  });
});

describe('splitRounds (NATS strict per-aggregate order)', () => {
  it('is a permutation into rounds with one event per aggregate, each aggregate in batch order, as few rounds as possible', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('order', 'user'), fc.integer({ min: 0, max: 6 })), { maxLength: 80 }), (spec) => {
        const batch: OutboxEvent[] = spec.map(([t, a], i) => createEvent({ aggregateType: t, aggregateId: `a${a}`, type: 'T', payload: i }));
        const rounds = splitRounds(batch);
        const flat = rounds.flat();
        expect([...flat].sort((x, y) => x.id.localeCompare(y.id))).toEqual([...batch].sort((x, y) => x.id.localeCompare(y.id)));
        const key = (e: OutboxEvent): string => `${e.aggregateType}/${e.aggregateId}`;
        for (const r of rounds) {
          expect(r.length).toBeGreaterThan(0);
          expect(new Set(r.map(key)).size).toBe(r.length);
        }
        // model: per aggregate, the order of the batch
        const perAgg = (evs: readonly OutboxEvent[]): Map<string, string[]> => {
          const m = new Map<string, string[]>();
          for (const e of evs) m.set(key(e), [...(m.get(key(e)) ?? []), e.id]);
          return m;
        };
        expect(perAgg(flat)).toEqual(perAgg(batch));
        const most = Math.max(0, ...[...perAgg(batch).values()].map((v) => v.length));
        expect(rounds.length).toBe(most);
      }),
      { numRuns: 300 },
    );
  });
});

describe('chainAfter (NATS strict per-aggregate order, pipelined)', () => {
  it("points each event at its aggregate's previous event in the batch; depth is the longest chain (= splitRounds' rounds)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('order', 'user'), fc.integer({ min: 0, max: 6 })), { maxLength: 80 }), (spec) => {
        const batch: OutboxEvent[] = spec.map(([t, a], i) => createEvent({ aggregateType: t, aggregateId: `a${a}`, type: 'T', payload: i }));
        const { after, depth } = chainAfter(batch);
        expect(after.length).toBe(batch.length);
        // model: a linear scan for the nearest earlier event of the same aggregate
        for (let i = 0; i < batch.length; i++) {
          let prev = -1;
          for (let j = i - 1; j >= 0; j--) {
            if (batch[j]!.aggregateType === batch[i]!.aggregateType && batch[j]!.aggregateId === batch[i]!.aggregateId) {
              prev = j;
              break;
            }
          }
          expect(after[i]).toBe(prev);
        }
        expect(depth).toBe(splitRounds(batch).length);
      }),
      { numRuns: 300 },
    );
  });
});
