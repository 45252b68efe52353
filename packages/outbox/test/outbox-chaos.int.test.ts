/**
 * Chaos test (issue 10): producers append events over many aggregates to a pg outbox while 2 polling relay processes
 * and 2 consumer processes (pg inbox) are SIGKILLed at random moments and restarted, and a private Redis
 * (`redis-server --appendonly yes` on a free port, so the shared Redis is untouched) is restarted once. At the end
 * every event's effect exists exactly once and per-aggregate order held. Sizes: OUTBOX_CHAOS_EVENTS (default 20000),
 * OUTBOX_CHAOS_AGGREGATES (default 200); OUTBOX_CHAOS_REDIS_RESTARTS (default 2, spread over the run) and
 * OUTBOX_CHAOS_KILL_MS (mean pause between SIGKILLs, default 750). Children run the built package
 * (`npm run build -w @dataplane/outbox`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PgInbox, PgOutboxStore } from '@dataplane/outbox/pg';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const EVENTS = Number(process.env.OUTBOX_CHAOS_EVENTS ?? 20_000);
const AGGS = Number(process.env.OUTBOX_CHAOS_AGGREGATES ?? 200);
const REDIS_RESTARTS = Number(process.env.OUTBOX_CHAOS_REDIS_RESTARTS ?? 2);
const KILL_MS = Number(process.env.OUTBOX_CHAOS_KILL_MS ?? 750);
const relayChild = fileURLToPath(new URL('./fixtures/outbox-relay-child.ts', import.meta.url));
const consumerChild = fileURLToPath(new URL('./fixtures/outbox-consumer-child.ts', import.meta.url));
const id = randomBytes(4).toString('hex');
const schema = `outbox_chaos_${id}`;
const prefix = `dp:chaos:${id}`;
const dir = mkdtempSync(join(tmpdir(), 'outbox-chaos-'));
const pool = new pg.Pool({ connectionString: PGURL, max: 8 });
const children = new Set<ChildProcess>();
let redisProc: ChildProcess | undefined;

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  redisProc?.kill('SIGKILL');
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });

async function startRedis(port: number): Promise<void> {
  redisProc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  const r = new Redis(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch {
      r.disconnect();
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  throw new Error('private redis did not start');
}

function spawnChild(file: string, env: Record<string, string>): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('child did not start')), 60_000);
    p.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve(p);
      }
    });
    p.stderr!.resume();
  });
}

describe('outbox chaos: pg -> relays -> Redis Streams -> inbox consumers, with SIGKILLs and a Redis restart', () => {
  it(`delivers each of ${EVENTS} events' effect exactly once, in order per aggregate`, async () => {
    const port = await freePort();
    await startRedis(port);
    const REDIS_URL = `redis://127.0.0.1:${port}`;
    const store = new PgOutboxStore({ pool, schema, table: 'outbox', partitions: 16 });
    await store.migrate();
    await new PgInbox({ pool, schema }).migrate();
    await pool.query(`create table ${schema}.effects (agg text primary key, last int not null, applied int not null)`);
    await pool.query(`create table ${schema}.violations (agg text, got int, want int)`);
    await pool.query(`create table ${schema}.counters (absorbed int not null)`);
    await pool.query(`insert into ${schema}.counters values (0)`);
    const base = { PGURL, SCHEMA: schema, REDIS_URL, PREFIX: prefix };
    const kinds = [
      { file: relayChild, env: { ...base, BATCH: '200' } },
      { file: relayChild, env: { ...base, BATCH: '200' } },
      { file: consumerChild, env: { ...base, PART: '0' } },
      { file: consumerChild, env: { ...base, PART: '1' } },
    ];
    const procs = await Promise.all(kinds.map((k) => spawnChild(k.file, k.env)));

    // producers: 4 loops over disjoint aggregates, each transaction appends the next event of 10 aggregates
    let appended = 0;
    let producing = true;
    const perAgg = Math.ceil(EVENTS / AGGS);
    const producer = async (w: number): Promise<void> => {
      const mine = Array.from({ length: AGGS }, (_, a) => a).filter((a) => a % 4 === w);
      for (let n = 0; n < perAgg; n++) {
        for (let i = 0; i < mine.length; i += 10) {
          const c = await pool.connect();
          await c.query('begin');
          const evs = mine.slice(i, i + 10).map((a) => ({ aggregateType: 'acct', aggregateId: `a${a}`, type: 'Step', payload: { n } }));
          await store.append(c, evs);
          await c.query('commit');
          c.release();
          appended += evs.length;
        }
      }
    };
    const producers = Promise.all([0, 1, 2, 3].map(producer)).finally(() => (producing = false));

    // chaos: SIGKILL a random child every 0.4-1.6 x KILL_MS and restart it; restart Redis REDIS_RESTARTS times, spread
    // evenly over the appends
    let kills = 0;
    let redisRestarts = 0;
    const chaos = (async () => {
      // keeps going after the producers finished until every Redis restart happened (a fast run can finish first)
      while (producing || redisRestarts < REDIS_RESTARTS) {
        await new Promise((r) => setTimeout(r, KILL_MS * (0.4 + Math.random() * 1.2)));
        const i = Math.floor(Math.random() * procs.length);
        procs[i]!.kill('SIGKILL');
        kills++;
        if (redisRestarts < REDIS_RESTARTS && (!producing || appended > (EVENTS * (redisRestarts + 1)) / (REDIS_RESTARTS + 1))) {
          redisRestarts++;
          const old = redisProc!;
          await new Promise<void>((r) => {
            old.once('exit', () => r());
            old.kill('SIGTERM');
          });
          await startRedis(port);
        }
        procs[i] = await spawnChild(kinds[i]!.file, kinds[i]!.env);
      }
    })();
    await producers;
    await chaos;
    const total = appended;
    // let the survivors finish
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await pool.query(`select coalesce(sum(applied),0)::int s from ${schema}.effects`);
      if (r.rows[0]!.s >= total || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
            p.once('exit', () => {
              clearTimeout(t);
              r();
            });
            p.kill('SIGTERM');
          }),
      ),
    );

    const redis = new Redis(REDIS_URL);
    let published = 0;
    for (const p of [0, 1]) published += await redis.xlen(`${prefix}:acct:${p}`);
    redis.disconnect();
    const eff = (await pool.query(`select coalesce(sum(applied),0)::int applied, coalesce(sum(last + 1),0)::int expected from ${schema}.effects`)).rows[0]!;
    const inboxRows = (await pool.query(`select count(*)::int n from ${schema}.dataplane_inbox`)).rows[0]!.n as number;
    const absorbed = (await pool.query(`select absorbed from ${schema}.counters`)).rows[0]!.absorbed as number;
    const violations = (await pool.query(`select * from ${schema}.violations limit 5`)).rows;
    const report = { appended: total, published, duplicatesPublished: published - total, duplicatesAbsorbed: absorbed, applied: eff.applied, lost: total - inboxRows, kills, redisRestarts };
    console.log('outbox chaos report', JSON.stringify(report));
    expect(redisRestarts).toBe(REDIS_RESTARTS);
    expect(kills).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expect(inboxRows).toBe(total);
    expect(eff.applied).toBe(total);
    expect(eff.expected).toBe(total);
    expect(await store.backlog()).toBe(0);
  }, 600_000);
});
