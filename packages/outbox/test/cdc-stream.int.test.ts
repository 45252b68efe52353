/**
 * The pgoutput change stream against the real PostgreSQL (wal_level=logical): decoding, commit order,
 * acknowledgement under the caller's control, initial snapshot, typed errors for a lost slot or publication.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxError, type CdcTransaction } from '@dataplane/outbox';
import { createPgChangeStream, type PgChangeStream } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup() {
  const id = randomBytes(4).toString('hex');
  const schema = `cdc_${id}`;
  const admin = new pg.Client({ connectionString: PGURL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.query(`create table ${schema}.items (id int primary key, name text not null, qty int, doc jsonb)`);
  await admin.query(`alter table ${schema}.items replica identity full`);
  const slot = `slot_${id}`;
  const publication = `pub_${id}`;
  cleanups.push(async () => {
    await admin.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [slot]).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    await admin.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [slot]).catch(() => {});
    await admin.query(`drop publication if exists ${publication}`);
    await admin.query(`drop schema ${schema} cascade`);
    await admin.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
    await admin.end();
  });
  const open = (extra: Partial<Parameters<typeof createPgChangeStream>[0]> = {}) => {
    const s = createPgChangeStream({ connectionString: PGURL, slot, publication, tables: [`${schema}.items`], statusIntervalMs: 200, ...extra });
    cleanups.push(() => s.close());
    return s;
  };
  return { admin, schema, slot, publication, open };
}

async function take(stream: PgChangeStream, n: number, ack = true): Promise<CdcTransaction[]> {
  const out: CdcTransaction[] = [];
  const it = stream[Symbol.asyncIterator]();
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
    if (ack) await stream.ack(r.value);
  }
  return out;
}

describe('pgoutput change stream (real PostgreSQL)', () => {
  it('streams whole transactions in commit order with typed values and before images', async () => {
    const { admin, schema, open } = await setup();
    const stream = open();
    await stream.start();
    await admin.query(`insert into ${schema}.items values (1, 'a', 1, '{"x":1}'), (2, 'b', 2, null)`);
    await admin.query(`begin; update ${schema}.items set qty = 10 where id = 1; delete from ${schema}.items where id = 2; commit;`);
    await admin.query(`truncate ${schema}.items`);
    const txs = await take(stream, 3);
    expect(txs.map((t) => t.changes.map((c) => c.op).join(''))).toEqual(['cc', 'ud', 't']);
    const [ins, upd] = txs as [CdcTransaction, CdcTransaction];
    expect(ins.changes[0]!.after).toEqual({ id: 1, name: 'a', qty: 1, doc: { x: 1 } });
    expect(ins.changes[0]!.source).toMatchObject({ schema, table: 'items' });
    expect(ins.changes[0]!.key).toEqual(['id']);
    expect(upd.changes[0]!.before).toMatchObject({ id: 1, qty: 1 });
    expect(upd.changes[0]!.after).toMatchObject({ id: 1, qty: 10 });
    expect(upd.changes[1]!.before).toMatchObject({ id: 2, name: 'b' });
    expect(upd.changes[1]!.after).toBeNull();
    const lsns = txs.map((t) => t.commitLsn);
    expect([...lsns].sort((a, b) => (BigInt(`0x${a.replace('/', '')}`) < BigInt(`0x${b.replace('/', '')}`) ? -1 : 1))).toEqual(lsns);
    expect(stream.stats()).toMatchObject({ state: 'streaming', transactionsReceived: 3, changesReceived: 5 });
  });

  it('redelivers what was not acknowledged after a restart, and nothing that was', async () => {
    const { admin, schema, open } = await setup();
    const first = open();
    await first.start();
    for (let i = 1; i <= 5; i++) await admin.query(`insert into ${schema}.items values ($1, 'n', $1)`, [i]);
    const got = await take(first, 5, false);
    await first.ack(got[1]!); // acknowledge the first two only
    await first.close();
    const second = open();
    await second.start();
    const again = await take(second, 3);
    expect(again.map((t) => t.changes[0]!.after!.id)).toEqual([3, 4, 5]);
  });

  it('takes an initial snapshot consistent with the slot start point, then streams', async () => {
    const { admin, schema, open } = await setup();
    for (let i = 1; i <= 25; i++) await admin.query(`insert into ${schema}.items values ($1, 'old', $1)`, [i]);
    const stream = open({ snapshot: true, snapshotBatchRows: 10 });
    await stream.start();
    await admin.query(`insert into ${schema}.items values (100, 'new', 1)`);
    const seen: number[] = [];
    const ops: string[] = [];
    const it = stream[Symbol.asyncIterator]();
    while (!seen.includes(100)) {
      const r = await it.next();
      for (const c of r.value!.changes) {
        seen.push(c.after!.id as number);
        ops.push(c.op);
      }
      await stream.ack(r.value!);
    }
    expect(seen.slice(0, 25).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(ops.slice(0, 25).every((o) => o === 'r')).toBe(true);
    expect(seen.at(-1)).toBe(100);
    expect(ops.at(-1)).toBe('c');
    expect(stream.stats().snapshotRows).toBe(25);
  });

  it('fails with OUTBOX_SLOT_LOST, not a hang, when the slot it created was dropped', async () => {
    const { admin, slot, open } = await setup();
    const first = open();
    await first.start();
    await first.close();
    // close() resolves only once the server has let go of the slot, so it can be dropped (or taken) at once
    const { rows } = await admin.query('select active_pid from pg_replication_slots where slot_name = $1', [slot]);
    expect(rows).toEqual([{ active_pid: null }]);
    await admin.query('select pg_drop_replication_slot($1)', [slot]);
    const second = open();
    await expect(second.start()).rejects.toSatisfy((e: unknown) => OutboxError.is(e, 'OUTBOX_SLOT_LOST'));
  });

  it('fails with OUTBOX_PUBLICATION_MISSING when the publication is missing and no tables are given', async () => {
    const { slot } = await setup();
    const s = createPgChangeStream({ connectionString: PGURL, slot, publication: 'pub_missing_' + slot.slice(5) });
    cleanups.push(() => s.close());
    await expect(s.start()).rejects.toSatisfy((e: unknown) => OutboxError.is(e, 'OUTBOX_PUBLICATION_MISSING'));
  });

  it('refuses a second reader of the same slot with a retryable OUTBOX_SLOT_BUSY', async () => {
    const { open } = await setup();
    const a = open();
    await a.start();
    const b = open({ standby: false });
    const err = await b.start().catch((e: unknown) => e);
    expect(OutboxError.is(err, 'OUTBOX_SLOT_BUSY')).toBe(true);
    expect((err as OutboxError).retryable).toBe(true);
  });

  it('advances an idle slot past WAL written to other tables', async () => {
    const { admin, schema, open } = await setup();
    await admin.query(`create table ${schema}.other (id serial primary key, pad text)`);
    const stream = open();
    await stream.start();
    const before = stream.stats().ackedLsn;
    for (let i = 0; i < 20; i++) await admin.query(`insert into ${schema}.other (pad) select repeat('x', 1000) from generate_series(1, 50)`);
    let lag = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 50 && stream.stats().ackedLsn === before; i++) await new Promise((r) => setTimeout(r, 100));
    lag = await stream.slotLagBytes();
    expect(stream.stats().ackedLsn).not.toBe(before);
    expect(lag).toBeLessThan(1_000_000);
  });

  it('rejects bad options with typed errors', () => {
    expect(() => createPgChangeStream({ connectionString: PGURL, slot: 'Bad-Name', publication: 'p' })).toThrow(OutboxError);
    expect(() => createPgChangeStream({ connectionString: PGURL, slot: 's', publication: 'p', tables: ['a.b.c'] })).toThrow(OutboxError);
  });
});
