/**
 * Crash test (issue 11): a CDC relay process is SIGKILLed at random moments while 50k one-row transactions commit;
 * it is restarted each time. Every change must reach Redis at least once, and through the inbox be applied exactly
 * once. Sizes: CDC_CRASH_TXS (default 50000), CDC_CRASH_KILLS (at least this many kills; default 8; kills continue
 * for as long as the producer runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TXS = Number(process.env.CDC_CRASH_TXS ?? 50_000);
const KILLS = Number(process.env.CDC_CRASH_KILLS ?? 8);
const child = fileURLToPath(new URL('./fixtures/cdc-relay-child.ts', import.meta.url));

const id = randomBytes(4).toString('hex');
const schema = `cdc_crash_${id}`;
const slot = `crash_${id}`;
const publication = `crashpub_${id}`;
const stream = `dataplane:test:cdc-crash:${id}`;
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
    env: { ...process.env, PGURL, REDIS_URL, SLOT: slot, PUBLICATION: publication, TABLE: `${schema}.t`, STREAM: stream },
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
    await pool.query(`create table ${schema}.inbox (id text primary key)`);
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

    // let the last relay drain everything
    const deadline = Date.now() + 120_000;
    let delivered = new Set<number>();
    let entries = 0;
    while (Date.now() < deadline) {
      const all = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
      entries = all.length;
      delivered = new Set(all.map(([, f]) => Number(f[3])));
      if (delivered.size === TXS) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await kill(relay);
    const lost = TXS - delivered.size;
    const duplicatesDelivered = entries - delivered.size;

    // consumer: apply each message through the inbox (dedup by change id, same transaction as the effect)
    const all = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
    let absorbed = 0;
    const c = await pool.connect();
    for (let i = 0; i < all.length; i += 500) {
      await c.query('begin');
      for (const [, f] of all.slice(i, i + 500)) {
        const fresh = await c.query(`insert into ${schema}.inbox (id) values ($1) on conflict do nothing`, [f[1]]);
        if (fresh.rowCount === 0) {
          absorbed++;
          continue;
        }
        await c.query(`insert into ${schema}.effects (n) values ($1) on conflict (n) do update set applied = effects.applied + 1`, [Number(f[3])]);
      }
      await c.query('commit');
    }
    c.release();
    const { rows } = await pool.query(`select count(*)::int as rows, coalesce(max(applied), 0)::int as max_applied from ${schema}.effects`);
    console.info(`[cdc-crash] committed=${TXS} kills=${kills} delivered=${entries} duplicatesDelivered=${duplicatesDelivered} duplicatesAbsorbed=${absorbed} lost=${lost}`);
    expect(lost).toBe(0);
    expect(absorbed).toBe(duplicatesDelivered);
    expect(rows[0]).toEqual({ rows: TXS, max_applied: 1 });
  }, 300_000);
});
