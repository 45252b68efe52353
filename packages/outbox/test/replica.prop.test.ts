/**
 * A replica fed at-least-once, in any order, in any batching, ends equal to the source table applied in commit
 * order once (the reference model).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryReplicaStore, createReplica, formatLsn, type ChangeEvent } from '@dataplane/outbox';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 200);

type Op = { kind: 'upsert'; id: number; v: number } | { kind: 'delete'; id: number } | { kind: 'truncate' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('upsert' as const), id: fc.integer({ min: 0, max: 5 }), v: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'truncate' as const }) },
);

/** Runs the ops as transactions against the reference table and returns the change events they produce. */
function source(txs: Op[][]): { events: ChangeEvent[]; table: Map<number, { id: number; v: number }> } {
  const table = new Map<number, { id: number; v: number }>();
  const events: ChangeEvent[] = [];
  txs.forEach((ops, t) => {
    const lsn = formatLsn(BigInt(1000 + t * 100));
    let seq = 0;
    for (const op of ops) {
      const src = { lsn, txid: t + 1, schema: 'public', table: 'items', ts: t, seq: seq++ };
      if (op.kind === 'truncate') {
        table.clear();
        events.push({ op: 't', before: null, after: null, key: ['id'], source: src });
      } else if (op.kind === 'delete') {
        const old = table.get(op.id);
        if (!old) continue;
        table.delete(op.id);
        events.push({ op: 'd', before: { id: op.id }, after: null, key: ['id'], source: src });
      } else {
        const existed = table.has(op.id);
        table.set(op.id, { id: op.id, v: op.v });
        events.push({ op: existed ? 'u' : 'c', before: null, after: { id: op.id, v: op.v }, key: ['id'], source: src });
      }
    }
  });
  return { events, table };
}

describe('Replica (property)', () => {
  it('converges to the source under duplicates, reordering and any batching', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        fc.infiniteStream(fc.nat()),
        async (txs, dupPicks, batchSize, rnd) => {
          const { events, table } = source(txs);
          // deliver every event at least once, some twice, in a shuffled order
          const delivery = [...events, ...dupPicks.filter(() => events.length > 0).map((i) => events[i % events.length]!)];
          const it = rnd[Symbol.iterator]();
          for (let i = delivery.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [delivery[i], delivery[j]] = [delivery[j]!, delivery[i]!];
          }
          const replica = createReplica({ store: createMemoryReplicaStore(), table: 'public.items', key: ['id'] });
          for (let i = 0; i < delivery.length; i += batchSize) await replica.apply(delivery.slice(i, i + batchSize));
          const got = (await replica.all()).sort((a, b) => Number(a.id) - Number(b.id));
          const want = [...table.values()].sort((a, b) => a.id - b.id);
          expect(got).toEqual(want);
          expect(await replica.count()).toBe(table.size);
        },
      ),
      { numRuns },
    );
  });
});
