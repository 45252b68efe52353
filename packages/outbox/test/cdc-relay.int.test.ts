/**
 * The CDC relay against the real PostgreSQL: publish-then-acknowledge, retry while the transport is down,
 * standby relays taking over when the leader stops, a lost slot stopping the relay with a typed error.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxError, createCdcRelay, type ChangeEvent } from '@dataplane/outbox';
import { createPgChangeStream } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup() {
  const id = randomBytes(4).toString('hex');
  const schema = `cdcr_${id}`;
  const slot = `slot_${id}`;
  const publication = `pub_${id}`;
  const admin = new pg.Client({ connectionString: PGURL });
  await admin.connect();
  await admin.query(`create schema ${schema}; create table ${schema}.t (id int primary key, v text)`);
  cleanups.push(async () => {
    await admin.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [slot]);
    await new Promise((r) => setTimeout(r, 100));
    await admin.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [slot]).catch(() => {});
    await admin.query(`drop publication if exists ${publication}; drop schema ${schema} cascade`);
    await admin.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
    await admin.end();
  });
  const source = () => createPgChangeStream({ connectionString: PGURL, slot, publication, tables: [`${schema}.t`], statusIntervalMs: 200, standbyPollMs: 50 });
  return { admin, schema, slot, source };
}

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('CDC relay (real PostgreSQL)', () => {
  it('retries while publishing fails and acknowledges only what was published', async () => {
    const { admin, schema, source } = await setup();
    const published: ChangeEvent[] = [];
    let down = true;
    const relay = createCdcRelay({
      source,
      toMessages: (tx) => tx.changes,
      publish: async (m) => {
        if (down) throw new Error('broker down');
        published.push(...m);
      },
      backoff: { initialMs: 10, maxMs: 50 },
    });
    cleanups.push(() => relay.close());
    await relay.start();
    for (let i = 1; i <= 20; i++) await admin.query(`insert into ${schema}.t values ($1, 'x')`, [i]);
    await until(() => relay.stats().publishFailures >= 3);
    expect(published).toHaveLength(0);
    down = false;
    await until(() => published.length >= 20);
    expect(published.map((c) => c.after!.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await relay.close();
    // nothing is redelivered after a clean restart: all 20 were acknowledged
    const again: ChangeEvent[] = [];
    const relay2 = createCdcRelay({ source, toMessages: (tx) => tx.changes, publish: async (m) => void again.push(...m) });
    cleanups.push(() => relay2.close());
    await relay2.start();
    await admin.query(`insert into ${schema}.t values (21, 'y')`);
    await until(() => again.length >= 1);
    expect(again.map((c) => c.after!.id)).toEqual([21]);
  });

  it('runs a standby that takes over when the leader stops', async () => {
    const { admin, schema, source } = await setup();
    const seen: number[] = [];
    const mk = () => createCdcRelay({ source, toMessages: (tx) => tx.changes, publish: async (m) => void seen.push(...m.map((c) => c.after!.id as number)) });
    const leader = mk();
    await leader.start();
    const standby = mk();
    cleanups.push(() => standby.close());
    const standbyStarted = standby.start();
    await admin.query(`insert into ${schema}.t values (1, 'a')`);
    await until(() => seen.length === 1);
    expect((standby.stats().source as { state: string }).state).toBe('standby');
    await leader.close();
    await standbyStarted;
    await admin.query(`insert into ${schema}.t values (2, 'b')`);
    await until(() => seen.includes(2));
    expect(seen).toEqual([1, 2]);
  });

  it('stops with OUTBOX_SLOT_LOST when its slot is dropped under it', async () => {
    const { admin, slot, source } = await setup();
    const relay = createCdcRelay({ source, toMessages: (tx) => tx.changes, publish: async () => {}, backoff: { initialMs: 10, maxMs: 20 } });
    cleanups.push(() => relay.close());
    await relay.start();
    await admin.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1', [slot]);
    await until(() => relay.stats().state !== 'running');
    // the restart finds the slot gone only if it is dropped: drop it while the relay backs off
    await admin.query('select pg_drop_replication_slot($1)', [slot]).catch(() => {});
    const err = await relay.done().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(OutboxError.is(err, 'OUTBOX_SLOT_LOST')).toBe(true);
    expect(relay.stats().state).toBe('failed');
  });
});
