/**
 * Replicated read models on the real PostgreSQL: the SQL store honours the same contract as the reference
 * (memory) store, and a consumer keeps answering from its replica while the owner is gone.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createCdcRelay, createMemoryReplicaStore, createReplica, formatLsn, type ChangeEvent } from '@dataplane/outbox';
import { createPgChangeStream, createPgReplicaStore } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ connectionString: PGURL, max: 4 });
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await pool.query(`drop schema if exists ${s} cascade`);
  await pool.end();
});

const until = async (cond: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('PostgreSQL replica store', () => {
  it('matches the reference store under duplicates, reordering and truncates', async () => {
    const schema = `rps_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    let n = 0;
    const change = fc.record({
      op: fc.constantFrom<'c' | 'u' | 'd' | 't'>('c', 'u', 'd', 't', 'c', 'u'),
      id: fc.integer({ min: 0, max: 4 }),
      v: fc.integer({ min: 0, max: 9 }),
      lsn: fc.integer({ min: 1, max: 40 }),
      seq: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), async (batches) => {
        const ref = createReplica({ store: createMemoryReplicaStore(), table: 'public.t', key: ['id'] });
        const sql = createReplica({ store: createPgReplicaStore({ pool, table: `${schema}.r${n++}` }), table: 'public.t', key: ['id'] });
        for (const batch of batches) {
          const events: ChangeEvent[] = batch.map((c) => ({
            op: c.op,
            before: c.op === 'd' ? { id: c.id } : null,
            after: c.op === 'd' || c.op === 't' ? null : { id: c.id, v: c.v },
            key: ['id'],
            source: { lsn: formatLsn(BigInt(c.lsn * 16)), txid: c.lsn, schema: 'public', table: 't', ts: 0, seq: c.seq },
          }));
          await ref.apply(events);
          await sql.apply(events);
        }
        const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => Number(a.id) - Number(b.id);
        expect((await sql.all()).sort(byId)).toEqual((await ref.all()).sort(byId));
      }),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 25) },
    );
  });

  it('follows a live table from snapshot to changes, and serves reads while the owner is down', async () => {
    const id = randomBytes(4).toString('hex');
    const owner = `owner_${id}`;
    const consumer = `consumer_${id}`;
    schemas.push(owner, consumer);
    const slot = `slot_${id}`;
    const publication = `pub_${id}`;
    await pool.query(`create schema ${owner}; create table ${owner}.customers (id int primary key, name text not null, credit int not null)`);
    await pool.query(`alter table ${owner}.customers replica identity full`);
    await pool.query(`insert into ${owner}.customers select g, 'c' || g, 100 from generate_series(1, 50) g`);

    const replica = createReplica({ store: createPgReplicaStore({ pool, table: `${consumer}.customers` }), table: `${owner}.customers` });
    await replica.start();
    const relay = createCdcRelay({
      source: () => createPgChangeStream({ connectionString: PGURL, slot, publication, tables: [`${owner}.customers`], snapshot: true, statusIntervalMs: 200 }),
      toMessages: (tx) => tx.changes,
      publish: (changes) => replica.apply(changes),
    });
    try {
      await relay.start();
      await until(async () => (await replica.count()) === 50);
      await pool.query(`update ${owner}.customers set credit = 500 where id <= 10`);
      await pool.query(`delete from ${owner}.customers where id > 45`);
      await pool.query(`alter table ${owner}.customers add column tier text`);
      await pool.query(`insert into ${owner}.customers values (99, 'new', 7, 'gold')`);
      await until(async () => (await replica.get({ id: 99 })) !== undefined);
      expect(await replica.count()).toBe(46);
      expect(await replica.get({ id: 3 })).toEqual({ id: 3, name: 'c3', credit: 500 });
      expect(await replica.get({ id: 99 })).toEqual({ id: 99, name: 'new', credit: 7, tier: 'gold' });
      expect(await replica.get({ id: 47 })).toBeUndefined();
    } finally {
      await relay.close();
      await pool.query('select pg_drop_replication_slot($1)', [slot]).catch(() => {});
      await pool.query(`drop publication if exists ${publication}`);
      await pool.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
    }
    // the owner goes away entirely: the consumer still answers from its own copy, and says how stale it is
    await pool.query(`drop schema ${owner} cascade`);
    const { rows } = await pool.query(`select row->>'name' as name from ${consumer}.customers where not deleted and (row->>'credit')::int >= 500 order by key`);
    expect(rows).toHaveLength(10);
    expect(await replica.get({ id: 1 })).toEqual({ id: 1, name: 'c1', credit: 500 });
    expect(replica.stats().lagMs).toBeGreaterThanOrEqual(0);
    expect(replica.stats().lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });
});
