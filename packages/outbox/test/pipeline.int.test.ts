/**
 * End to end against the machine's PostgreSQL, Redis and NATS: pg outbox -> several polling relays -> transport ->
 * consumer with a pg inbox. Checks exactly-once effects, per-aggregate order, backoff, cleanup and XAUTOCLAIM.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, MemoryTransport, PollingRelay, createEvent, type OutboxEvent, type Transport } from '@dataplane/outbox';
import { PgInbox, PgOutboxStore, type PgQueryable } from '@dataplane/outbox/pg';
import { RedisStreamsTransport } from '@dataplane/outbox/redis';
import { NatsJetStreamTransport } from '@dataplane/outbox/nats';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const schema = `outbox_it_${id}`;
const pool = new pg.Pool({ connectionString: PGURL, max: 12 });
const redis = new Redis(REDIS_URL);
let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});
afterAll(async () => {
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
  const keys = await redis.keys(`dp:it:${id}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

async function until(cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produce(store: PgOutboxStore, aggregates: number, perAggregate: number): Promise<void> {
  // each transaction appends the next event of a few aggregates, in order
  for (let n = 0; n < perAggregate; n++) {
    const c = await pool.connect();
    await c.query('begin');
    await store.append(c, Array.from({ length: aggregates }, (_, a) => ({ aggregateType: 'acct', aggregateId: `a${a}`, type: 'Step', payload: { n } })));
    await c.query('commit');
    c.release();
  }
}

async function endToEnd(name: string, transport: Transport): Promise<void> {
  const store = new PgOutboxStore({ pool, schema, table: `ob_${name}`, partitions: 8, partitionsPerClaim: 2 });
  await store.migrate();
  await store.migrate(); // idempotent
  const inbox = new PgInbox({ pool, schema, prefix: name });
  await inbox.migrate();
  await inbox.migrate();
  await pool.query(`create table ${schema}.${name}_effects (agg text primary key, last int not null, applied int not null)`);
  await pool.query(`create table ${schema}.${name}_violations (agg text, got int, want int)`);
  const consumer = new Consumer<PgQueryable>({
    name, transport, inbox, aggregateTypes: ['acct'],
    handler: async (e, c) => {
      const n = (e.payload as { n: number }).n;
      const r = await c.query(`select last from ${schema}.${name}_effects where agg = $1`, [e.aggregateId]);
      const last = r.rows.length === 0 ? -1 : (r.rows[0]!.last as number);
      if (n !== last + 1) await c.query(`insert into ${schema}.${name}_violations values ($1, $2, $3)`, [e.aggregateId, n, last + 1]);
      await c.query(`insert into ${schema}.${name}_effects values ($1, $2, 1) on conflict (agg) do update set last = excluded.last, applied = ${schema}.${name}_effects.applied + 1`, [e.aggregateId, n]);
    },
  });
  await consumer.start();
  const relays = [0, 1, 2].map(() => new PollingRelay({ store, transport, batchSize: 50, pollIntervalMs: 10 }));
  await Promise.all(relays.map((r) => r.start()));
  const A = 40;
  const N = 25;
  await produce(store, A, N);
  await until(async () => (await pool.query(`select coalesce(sum(applied),0)::int s from ${schema}.${name}_effects`)).rows[0]!.s === A * N);
  await Promise.all(relays.map((r) => r.close()));
  await consumer.close();
  expect(await store.backlog()).toBe(0);
  expect((await pool.query(`select * from ${schema}.${name}_violations`)).rows).toEqual([]);
  const eff = await pool.query(`select count(*)::int c, min(last) mn, max(last) mx from ${schema}.${name}_effects`);
  expect(eff.rows[0]).toEqual({ c: A, mn: N - 1, mx: N - 1 });
  expect(relays.reduce((s, r) => s + r.stats().published, 0)).toBe(A * N);
  expect(relays.filter((r) => r.stats().published > 0).length).toBeGreaterThan(1);
  // cleanup by age
  expect(await store.cleanup(60_000)).toBe(0);
  expect(await store.cleanup(0)).toBe(A * N);
}

describe('pg outbox end to end', () => {
  it('pg -> 3 relays -> Redis Streams -> inbox consumer: exactly once, in order per aggregate', async () => {
    const t = new RedisStreamsTransport({ client: redis, prefix: `dp:it:${id}`, trim: { maxLen: 100_000 } });
    await endToEnd('redis', t);
    await t.close();
  }, 120_000);

  it('pg -> 3 relays -> NATS JetStream -> inbox consumer: exactly once, in order per aggregate', async () => {
    const stream = `DPIT_${id}`;
    streams.push(stream);
    const t = new NatsJetStreamTransport({ connection: nc, stream, subjectPrefix: `dpit${id}` });
    await endToEnd('nats', t);
    await t.close();
  }, 120_000);

  it('JetStream drops a republished event id (Nats-Msg-Id)', async () => {
    const stream = `DPDUP_${id}`;
    streams.push(stream);
    const t = new NatsJetStreamTransport({ connection: nc, stream, subjectPrefix: `dpdup${id}` });
    const e = createEvent({ aggregateType: 'x', aggregateId: '1', type: 'T', payload: 1 });
    await t.publish([e]);
    await t.publish([e]);
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    expect(info.state.messages).toBe(1);
    await t.close();
  });

  it('backs off while the transport is down and marks nothing sent', async () => {
    const store = new PgOutboxStore({ pool, schema, table: 'ob_down' });
    await store.migrate();
    const inner = new MemoryTransport();
    let down = true;
    const got: OutboxEvent[] = [];
    await inner.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => void got.push(e));
    const flaky: Transport = {
      publish: async (evs) => {
        if (down) throw new Error('broker down');
        await inner.publish(evs);
      },
      subscribe: (o, h) => inner.subscribe(o, h),
      close: () => inner.close(),
    };
    const errors: unknown[] = [];
    const relay = new PollingRelay({ store, transport: flaky, backoff: { initialMs: 5, maxMs: 20 }, onError: (e) => errors.push(e) });
    await produce(store, 3, 2);
    await relay.start();
    await until(() => relay.stats().failures >= 3);
    expect(await store.backlog()).toBe(6);
    down = false;
    await until(() => got.length === 6);
    await relay.close();
    await relay.close();
    expect(await store.backlog()).toBe(0);
    expect(relay.stats()).toMatchObject({ state: 'closed', published: 6 });
    expect(errors.length).toBe(relay.stats().failures);
  });

  it('rejects bad events without writing anything', async () => {
    const store = new PgOutboxStore({ pool, schema, table: 'ob_bad' });
    await store.migrate();
    const c = await pool.connect();
    await c.query('begin');
    await expect(store.append(c, [{ aggregateType: 'a', aggregateId: '1', type: 'T', payload: 1 }, { aggregateType: 'a b', aggregateId: '1', type: 'T', payload: 1 }])).rejects.toThrow(/aggregateType/);
    await c.query('rollback');
    c.release();
    expect(await store.backlog()).toBe(0);
    expect(() => new PgOutboxStore({ pool, schema: 'Bad;drop' })).toThrow(/identifier/);
  });

  it('Redis: XAUTOCLAIM takes over entries a dead consumer left pending', async () => {
    const t = new RedisStreamsTransport({ client: redis, prefix: `dp:it:${id}:claim`, claimIdleMs: 200, blockMs: 100 });
    const evs = [1, 2, 3].map((n) => createEvent({ aggregateType: 'acct', aggregateId: 'x', type: 'T', payload: n }));
    const key = t.streamOf('acct', 'x');
    await redis.call('XGROUP', 'CREATE', key, 'g', '0', 'MKSTREAM');
    await t.publish(evs);
    // a consumer reads them and dies without acknowledging
    await redis.call('XREADGROUP', 'GROUP', 'g', 'dead', 'COUNT', 10, 'STREAMS', key, '>');
    const seen: unknown[] = [];
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'alive' }, async (e) => void seen.push(e.payload));
    await until(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    await sub.close();
    await until(async () => ((await redis.call('XPENDING', key, 'g')) as [number])[0] === 0);
    await t.close();
  });

  it('append stores awkward payloads, headers and ids exactly, one event or a batch', async () => {
    const store = new PgOutboxStore({ pool, schema, table: 'ob_exact' });
    await store.migrate();
    const awkward = { s: 'quote " backslash \\ comma , braces {} newline \n tab \t', u: 'ünïcødé 😀', n: null, a: [1, { b: 'NULL' }] };
    const evs = [
      { aggregateType: 'acct', aggregateId: 'NULL', type: 'T', payload: awkward, headers: { 'x-k': 'v "q" {x}' } },
      { aggregateType: 'acct', aggregateId: 'a,b"c', type: 'T', payload: 'plain string' },
      { aggregateType: 'acct', aggregateId: 'z', type: 'T', payload: 42, version: 3, occurredAt: '2020-01-02T03:04:05.678Z' },
    ];
    const c = await pool.connect();
    await c.query('begin');
    const one = await store.append(c, evs[0]!);
    const many = await store.append(c, evs);
    await c.query('commit');
    c.release();
    const got: OutboxEvent[] = [];
    await store.claim(10, async (batch) => void got.push(...batch));
    expect(got).toEqual([...one, ...many]);
    expect(got[1]!.payload).toEqual(awkward);
    expect(got[3]!.occurredAt).toBe('2020-01-02T03:04:05.678Z');
  });

  it('Redis: the subscriber reads ahead, keeping more than one read of entries in flight, and acknowledges them all', async () => {
    const t = new RedisStreamsTransport({ client: redis, prefix: `dp:it:${id}:ahead`, readCount: 10, blockMs: 50 });
    const evs = Array.from({ length: 50 }, (_, n) => createEvent({ aggregateType: 'acct', aggregateId: `x${n}`, type: 'T', payload: n }));
    await t.publish(evs);
    // no handler finishes before all 50 entries were handed out: reading 10 at a time, that needs 5 reads in flight
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c1', maxInFlight: 64 }, async (e) => {
      seen.push(e.payload as number);
      if (seen.length === 50) release();
      await gate;
    });
    await until(() => seen.length === 50, 10_000);
    expect(seen).toEqual(evs.map((_, n) => n));
    const key = t.streamOf('acct', 'x0');
    await until(async () => ((await redis.call('XPENDING', key, 'g')) as [number])[0] === 0);
    // a restarted subscriber finds nothing of its own pending and nothing new
    await sub.close();
    const again: unknown[] = [];
    const sub2 = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c1' }, async (e) => void again.push(e.payload));
    await new Promise((r) => setTimeout(r, 200));
    await sub2.close();
    expect(again).toEqual([]);
    await t.close();
  });

  it('Redis: at most maxInFlight handlers run at once, and pending entries left by a crash are delivered once each', async () => {
    const t = new RedisStreamsTransport({ client: redis, prefix: `dp:it:${id}:cap`, readCount: 7, blockMs: 50 });
    const evs = Array.from({ length: 60 }, (_, n) => createEvent({ aggregateType: 'acct', aggregateId: `y${n % 6}`, type: 'T', payload: n }));
    const key = t.streamOf('acct', 'y0');
    await redis.call('XGROUP', 'CREATE', key, 'g', '0', 'MKSTREAM');
    await t.publish(evs);
    // the same consumer name read 25 entries before a crash: they are its own pending entries now
    await redis.call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', 25, 'STREAMS', key, '>');
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c1', maxInFlight: 5 }, async (e) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      seen.push(e.payload as number);
      running--;
    });
    await until(() => seen.length >= 60, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    await sub.close();
    expect(most).toBeLessThanOrEqual(5);
    expect([...seen].sort((a, b) => a - b)).toEqual(evs.map((_, n) => n));
    expect(((await redis.call('XPENDING', key, 'g')) as [number])[0]).toBe(0);
    await t.close();
  });

  it("onSent 'delete' removes a batch only once it was published, in append order per aggregate", async () => {
    const store = new PgOutboxStore({ pool, schema, table: 'ob_del', partitions: 4, partitionsPerClaim: 4, onSent: 'delete' });
    await store.migrate();
    const c = await pool.connect();
    await c.query('begin');
    const appended = await store.append(c, Array.from({ length: 30 }, (_, n) => ({ aggregateType: 'acct', aggregateId: `d${n % 3}`, type: 'Step', payload: { n } })));
    await c.query('commit');
    c.release();
    // a failed publish leaves every row in place
    await expect(store.claim(10, async () => Promise.reject(new Error('broker down')))).rejects.toThrow(/broker down/);
    expect(await store.backlog()).toBe(30);
    const got: OutboxEvent[] = [];
    while ((await store.claim(7, async (b) => void got.push(...b))) > 0);
    expect(got.map((e) => e.id).sort()).toEqual(appended.map((e) => e.id).sort());
    for (const agg of ['d0', 'd1', 'd2']) {
      const ns = got.filter((e) => e.aggregateId === agg).map((e) => (e.payload as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
    expect((await pool.query(`select count(*)::int n from ${schema}.ob_del`)).rows[0]!.n).toBe(0);
    expect(await store.cleanup(0)).toBe(0);
    expect(() => new PgOutboxStore({ pool, onSent: 'drop' as 'delete' })).toThrow(/onSent/);
  });
});
