/**
 * The embedded default store, no servers: the pg outbox store and inbox on PGlite through `@dataplane/outbox/pglite`.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, MemoryTransport, OutboxError, PollingRelay, type OutboxEvent, type Transport } from '@dataplane/outbox';
import { PgInbox, PgOutboxStore, type PgQueryable } from '@dataplane/outbox/pg';
import { createPglitePool, openPglitePool, type PglitePool } from '@dataplane/outbox/pglite';

let pool: PglitePool;
beforeAll(async () => {
  pool = await openPglitePool();
});
afterAll(async () => {
  await pool.end();
});

async function until(cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PGlite pool', () => {
  it('runs PgOutboxStore: append in a transaction, rollback leaves nothing', async () => {
    const store = new PgOutboxStore({ pool, table: 'ob_tx' });
    await store.migrate();
    await store.migrate();
    const c = await pool.connect();
    await c.query('begin');
    await store.append(c, { aggregateType: 'order', aggregateId: 'o-1', type: 'OrderPlaced', payload: { total: 5 } });
    await c.query('rollback');
    await c.query('begin');
    await store.append(c, [1, 2].map((n) => ({ aggregateType: 'order', aggregateId: 'o-2', type: 'Step', payload: { n } })));
    await c.query('commit');
    c.release();
    expect(await store.backlog()).toBe(2);
    const r = await pool.query('select aggregate_id, payload from public.ob_tx order by seq');
    expect(r.rows).toEqual([{ aggregate_id: 'o-2', payload: { n: 1 } }, { aggregate_id: 'o-2', payload: { n: 2 } }]);
    expect(r.rowCount).toBe(2);
    expect((await pool.query('update public.ob_tx set sent_at = now()')).rowCount).toBe(2);
    // like node-postgres, parameterless text may hold several statements
    expect((await pool.query('select 1 as x; select 2 as x')).rows).toEqual([{ x: 2 }]);
  });

  it('append stores awkward payloads exactly, one event or a batch (array parameters)', async () => {
    const store = new PgOutboxStore({ pool, table: 'ob_exact' });
    await store.migrate();
    const awkward = { s: 'quote " backslash \\ comma , braces {} newline \n', u: 'ünï 😀', n: null };
    const c = await pool.connect();
    await c.query('begin');
    const out = [
      ...(await store.append(c, { aggregateType: 'a', aggregateId: 'NULL', type: 'T', payload: awkward })),
      ...(await store.append(c, [awkward, 'NULL', 7].map((payload) => ({ aggregateType: 'a', aggregateId: 'a,"b', type: 'T', payload, headers: { h: '{"x"}' } })))),
    ];
    await c.query('commit');
    c.release();
    const got: OutboxEvent[] = [];
    await store.claim(10, async (batch) => void got.push(...batch));
    expect(got).toEqual(out);
  });

  it('relay + MemoryTransport + consumer + PgInbox: 500 events over 20 aggregates, exactly once, in order, duplicates absorbed', async () => {
    const store = new PgOutboxStore({ pool, table: 'ob_e2e', partitions: 8, partitionsPerClaim: 2 });
    await store.migrate();
    const inbox = new PgInbox({ pool, prefix: 'e2e' });
    await inbox.migrate();
    await pool.query('create table e2e_effects (agg text primary key, last int not null, applied int not null)');
    await pool.query('create table e2e_violations (agg text, got int, want int)');
    const inner = new MemoryTransport();
    const published: OutboxEvent[] = [];
    const transport: Transport = {
      publish: async (evs) => {
        await inner.publish(evs);
        published.push(...evs);
      },
      subscribe: (o, h) => inner.subscribe(o, h),
      close: () => inner.close(),
    };
    const consumer = new Consumer<PgQueryable>({
      name: 'e2e', transport, inbox, aggregateTypes: ['acct'],
      handler: async (e, c) => {
        const n = (e.payload as { n: number }).n;
        const r = await c.query('select last from e2e_effects where agg = $1', [e.aggregateId]);
        const last = r.rows.length === 0 ? -1 : (r.rows[0]!.last as number);
        if (n !== last + 1) await c.query('insert into e2e_violations values ($1, $2, $3)', [e.aggregateId, n, last + 1]);
        await c.query('insert into e2e_effects values ($1, $2, 1) on conflict (agg) do update set last = excluded.last, applied = e2e_effects.applied + 1', [e.aggregateId, n]);
      },
    });
    await consumer.start();
    const relays = [0, 1].map(() => new PollingRelay({ store, transport, batchSize: 50, pollIntervalMs: 5 }));
    await Promise.all(relays.map((r) => r.start()));
    const A = 20;
    const N = 25;
    for (let n = 0; n < N; n++) {
      const c = await pool.connect();
      await c.query('begin');
      await store.append(c, Array.from({ length: A }, (_, a) => ({ aggregateType: 'acct', aggregateId: `a${a}`, type: 'Step', payload: { n } })));
      await c.query('commit');
      c.release();
    }
    const applied = async () => (await pool.query('select coalesce(sum(applied),0)::int s from e2e_effects')).rows[0]!.s;
    await until(async () => (await applied()) === A * N);
    // redeliver some events, as a relay that crashed before marking them sent would
    const again = published.filter((_, i) => i % 10 === 0);
    await transport.publish(again);
    await until(() => consumer.stats().duplicates >= again.length);
    await Promise.all(relays.map((r) => r.close()));
    await consumer.close();
    expect(await applied()).toBe(A * N);
    expect(consumer.stats()).toMatchObject({ handled: A * N, duplicates: again.length, deadLettered: 0 });
    expect(await store.backlog()).toBe(0);
    expect((await pool.query('select * from e2e_violations')).rows).toEqual([]);
    const eff = await pool.query('select count(*)::int c, min(last) mn, max(last) mx from e2e_effects');
    expect(eff.rows[0]).toEqual({ c: A, mn: N - 1, mx: N - 1 });
    await inner.close();
  }, 60_000);

  it('connect() is exclusive: concurrent read-modify-write transactions never interleave', async () => {
    await pool.query('create table counter (v int not null)');
    await pool.query('insert into counter values (0)');
    const bump = async () => {
      const c = await pool.connect();
      try {
        await c.query('begin');
        const v = (await c.query('select v from counter')).rows[0]!.v as number;
        await new Promise((r) => setTimeout(r, 1));
        await c.query('update counter set v = $1', [v + 1]);
        await c.query('commit');
      } finally {
        c.release();
      }
    };
    await Promise.all(Array.from({ length: 50 }, bump));
    expect((await pool.query('select v from counter')).rows[0]!.v).toBe(50);
  });

  it('release() twice is harmless; a released client refuses queries; end() leaves a user-owned db open', async () => {
    const db = await PGlite.create();
    const p = createPglitePool(db);
    const c = await p.connect();
    c.release();
    c.release();
    await expect(c.query('select 1')).rejects.toSatisfy((e) => OutboxError.is(e, 'OUTBOX_CLOSED'));
    // a double release did not free the session twice: two clients still take turns
    const order: string[] = [];
    const c1 = await p.connect();
    const second = p.connect().then((c2) => (order.push('c2'), c2));
    await new Promise((r) => setTimeout(r, 10));
    order.push('c1');
    c1.release();
    (await second).release();
    expect(order).toEqual(['c1', 'c2']);
    await p.end();
    await p.end();
    await expect(p.query('select 1')).rejects.toSatisfy((e) => OutboxError.is(e, 'OUTBOX_CLOSED'));
    expect((await db.query('select 1 as x')).rows).toEqual([{ x: 1 }]);
    await db.close();
    const owned = createPglitePool(await PGlite.create(), { closeOnEnd: true });
    await owned.end();
  });
});
