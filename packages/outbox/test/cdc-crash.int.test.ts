/**
 * Crash test (issue 11): a CDC relay process (table CDC into the Redis Streams transport) is SIGKILLed at random
 * moments while 50k one-row transactions commit; it is restarted each time. Every change must reach Redis at least
 * once, and through a consumer with the PostgreSQL inbox be applied exactly once. Sizes: CDC_CRASH_TXS (default 20000 to keep CI short; the 50000 is run by hand), CDC_CRASH_KILLS (at least this many kills; default 8; kills continue
 * for as long as the producer runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Consumer, decodeEvent, type ChangeEvent } from '@dataplane/outbox';
import { PgInbox, type PgQueryable } from '@dataplane/outbox/pg';
import { RedisStreamsTransport } from '@dataplane/outbox/redis';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TXS = Number(process.env.CDC_CRASH_TXS ?? 20_000);
const KILLS = Number(process.env.CDC_CRASH_KILLS ?? 8);
const child = fileURLToPath(new URL('./fixtures/cdc-relay-child.ts', import.meta.url));

const id = randomBytes(4).toString('hex');
const schema = `cdc_crash_${id}`;
const slot = `crash_${id}`;
const publication = `crashpub_${id}`;
const prefix = `dataplane:test:cdc-crash:${id}`;
const stream = `${prefix}:t`;
const pool = new pg.Pool({ connectionString: PGURL, max: 8 });
const redis = new Redis(REDIS_URL);
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await pool.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [slot]).catch(() => {});
  await new Promise((r) => setTimeout(r, 200));
  await pool.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [slot]).catch(() => {});
  await pool.query(`drop publication if exists ${publication}`).catch(() => {});
  await pool.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
  await redis.del(stream);
  redis.disconnect();
});

function startRelay(): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', child], {
    env: { ...process.env, PGURL, REDIS_URL, SLOT: slot, PUBLICATION: publication, TABLE: `${schema}.t`, PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d) => (err += String(d)));
    p.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) resolve(p);
    });
    p.on('exit', (code, sig) => {
      if (sig !== 'SIGKILL') reject(new Error(`relay exited ${code}: ${err}`));
    });
  });
}

const kill = (p: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });

describe('CDC relay crash test (real PostgreSQL and Redis)', () => {
  it(`delivers every one of ${TXS} transactions at least once across ${KILLS} SIGKILLs, and exactly once through the inbox`, async () => {
    await pool.query(`create schema ${schema}`);
    await pool.query(`create table ${schema}.t (id bigserial primary key, n int not null unique)`);
    await pool.query(`create table ${schema}.effects (n int primary key, applied int not null default 1)`);

    // first start creates the slot; from then on WAL is retained for the relay whatever happens to it
    let relay = await startRelay();

    // producer: TXS one-row transactions over 8 connections
    let produced = 0;
    const producer = Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const c = await pool.connect();
        for (let n = w; n < TXS; n += 8) {
          await c.query(`insert into ${schema}.t (n) values ($1)`, [n]);
          produced++;
        }
        c.release();
      }),
    );

    // chaos: kill the relay at random moments while the producer runs, restart it each time
    let kills = 0;
    const rnd = () => Math.floor(Math.random() * 600) + 100;
    let producing = true;
    void producer.then(() => (producing = false));
    // kill at random moments for as long as the producer runs, and at least KILLS times
    while (producing || kills < KILLS) {
      await new Promise((r) => setTimeout(r, rnd()));
      await kill(relay);
      kills++;
      relay = await startRelay();
    }
    await producer;
    expect(produced).toBe(TXS);

    // let the last relay drain everything into Redis
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (Number(await redis.xlen(stream)) >= TXS) {
        const all = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
        const ns = new Set(all.map(([, f]) => (decodeEvent(f[f.indexOf('e') + 1]!).payload as ChangeEvent).after!.n));
        if (ns.size === TXS) break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await kill(relay);
    // count the stream only once no relay can append to it: a relay still re-sending its tail while the count was
    // taken made the consumer below stop one entry short (seen once in CI as "lost=1, absorbed = delivered + 1")
    const entries = Number(await redis.xlen(stream));

    // consumer: the transport's consumer group, the PostgreSQL inbox, the effect in the same transaction
    const transport = new RedisStreamsTransport({ client: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix });
    const inbox = new PgInbox({ pool, schema });
    await inbox.migrate();
    const consumer = new Consumer<PgQueryable>({
      name: 'crash-test',
      transport,
      inbox,
      aggregateTypes: ['t'],
      handler: async (event, client) => {
        const change = event.payload as ChangeEvent;
        await client.query(`insert into ${schema}.effects (n) values ($1) on conflict (n) do update set applied = effects.applied + 1`, [change.after!.n]);
      },
    });
    await consumer.start();
    const until = Date.now() + 120_000;
    while (consumer.stats().handled + consumer.stats().duplicates < entries && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await consumer.close();
    await transport.close();
    const { rows } = await pool.query(`select count(*)::int as rows, coalesce(max(applied), 0)::int as max_applied from ${schema}.effects`);
    const st = consumer.stats();
    const lost = TXS - rows[0].rows;
    console.info(`[cdc-crash] committed=${TXS} kills=${kills} delivered=${entries} duplicatesDelivered=${entries - TXS} duplicatesAbsorbed=${st.duplicates} applied=${rows[0].rows} lost=${lost}`);
    if (lost > 0) {
      const { rows: missing } = await pool.query(`select n from generate_series(0, $1::int - 1) n where n not in (select n from ${schema}.effects) limit 20`, [TXS]);
      console.info(`[cdc-crash] not applied (first 20): ${missing.map((r) => r.n).join(', ')}`);
    }
    expect(lost).toBe(0);
    expect(st.handled).toBe(TXS);
    expect(st.duplicates).toBe(entries - TXS);
    expect(rows[0]).toEqual({ rows: TXS, max_applied: 1 });
  }, 300_000);
});
