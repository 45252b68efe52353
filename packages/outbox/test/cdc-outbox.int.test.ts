/**
 * The outbox published from the WAL (Debezium's outbox event router) and generic table CDC as events, on the real
 * PostgreSQL: events appended with PgOutboxStore in committed transactions come out with their own ids, in commit
 * order; rolled-back appends never do; table changes carry deterministic ids.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { changeId, type ChangeEvent, type OutboxEvent, type Transport } from '@dataplane/outbox';
import { PgOutboxStore } from '@dataplane/outbox/pg';
import { createOutboxCdcRelay, createTableCdcRelay } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ connectionString: PGURL, max: 4 });
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await pool.end();
});

/** A transport that records what the relay published (the relay is under test, not a broker). */
function recorder(): Transport & { events: OutboxEvent[] } {
  const events: OutboxEvent[] = [];
  return {
    events,
    async publish(batch) {
      events.push(...batch);
    },
    async subscribe() {
      throw new Error('not used');
    },
    async close() {},
  };
}

async function scratch(prefix: string) {
  const id = randomBytes(4).toString('hex');
  const schema = `${prefix}_${id}`;
  const slot = `${prefix}_slot_${id}`;
  const publication = `${prefix}_pub_${id}`;
  await pool.query(`create schema ${schema}`);
  cleanups.push(async () => {
    await pool.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [slot]);
    await new Promise((r) => setTimeout(r, 100));
    await pool.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [slot]).catch(() => {});
    await pool.query(`drop publication if exists ${publication}`);
    await pool.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
    await pool.query(`drop schema ${schema} cascade`);
  });
  return { schema, slot, publication };
}

const until = async (cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('outbox via CDC (real PostgreSQL)', () => {
  it('publishes exactly the committed appends, with their ids, in commit order per aggregate', async () => {
    const { schema, slot, publication } = await scratch('obx');
    const store = new PgOutboxStore({ pool, schema });
    await store.migrate();
    const transport = recorder();
    const relay = createOutboxCdcRelay({ connectionString: PGURL, transport, table: `${schema}.dataplane_outbox`, slot, publication });
    cleanups.push(() => relay.close());
    await relay.start();

    const appended: OutboxEvent[] = [];
    for (let i = 0; i < 30; i++) {
      const c = await pool.connect();
      await c.query('begin');
      const evs = await store.append(c, [
        { aggregateType: 'order', aggregateId: `o${i % 3}`, type: 'OrderPlaced', payload: { i } },
        { aggregateType: 'customer', aggregateId: `c${i % 2}`, type: 'CustomerTouched', payload: { i }, headers: { trace: `t${i}` } },
      ]);
      if (i % 5 === 4) await c.query('rollback');
      else {
        await c.query('commit');
        appended.push(...(Array.isArray(evs) ? evs : [evs]));
      }
      c.release();
    }
    await until(() => transport.events.length >= appended.length);
    await new Promise((r) => setTimeout(r, 200));
    expect(transport.events.map((e) => e.id)).toEqual(appended.map((e) => e.id));
    expect(transport.events).toEqual(appended);
    expect(relay.stats().transactions).toBe(24);
  });

  it('publishes table changes with deterministic ids, routed by table, keyed by primary key', async () => {
    const { schema, slot, publication } = await scratch('tbl');
    await pool.query(`create table ${schema}.customers (id int primary key, name text)`);
    await pool.query(`insert into ${schema}.customers values (1, 'a')`);
    const transport = recorder();
    const relay = createTableCdcRelay({ connectionString: PGURL, transport, tables: [`${schema}.customers`], slot, publication, snapshot: true });
    cleanups.push(() => relay.close());
    await relay.start();
    await pool.query(`insert into ${schema}.customers values (2, 'b')`);
    await pool.query(`update ${schema}.customers set name = 'A' where id = 1`);
    await pool.query(`delete from ${schema}.customers where id = 2`);
    await until(() => transport.events.length >= 4);
    expect(transport.events.map((e) => [e.type, e.aggregateType, e.aggregateId])).toEqual([
      ['row.read', 'customers', '[1]'],
      ['row.created', 'customers', '[2]'],
      ['row.updated', 'customers', '[1]'],
      ['row.deleted', 'customers', '[2]'],
    ]);
    for (const e of transport.events) {
      expect(e.id).toBe(changeId(e.payload as ChangeEvent));
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(transport.events.map((e) => e.id)).size).toBe(4);
  });
});
