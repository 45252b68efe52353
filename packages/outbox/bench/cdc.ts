/**
 * CDC benchmarks (issue 11): our outbox CDC relay (createOutboxCdcRelay) beside our polling relay (PollingRelay,
 * batch 256) and a plain pg-logical-replication consumer (the floor: auto acknowledgement, no publishing, no
 * guarantees), on the same PostgreSQL, the same outbox table (PgOutboxStore), the same workload, in one run.
 *
 * - cdc-drain: a backlog of N one-row transactions committed while the reader is stopped, then drained:
 *   transactions per second until the last one is delivered.
 * - cdc-latency: a producer commits at a fixed rate (5k tx/s over 8 connections, synchronous commit: the walsender
 *   only sends flushed WAL, so asynchronous commit would add up to wal_writer_delay); commit-to-delivered latency p50/p99 from the commit
 *   timestamp in the WAL to the moment the relay's publish resolved; slot lag sampled every 100 ms.
 * "Delivered" for ours means handed to `publish` and acknowledged after it resolved; the publish here is an
 * in-memory sink so the figures isolate the CDC path (transport costs are measured by the outbox cases).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { percentile, type BenchCase, type BenchContext } from '@dataplane/bench';
import { PollingRelay, type Transport } from '@dataplane/outbox';
import { PgOutboxStore } from '@dataplane/outbox/pg';
import { createOutboxCdcRelay, createPgChangeStream } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Fixture {
  pool: pg.Pool;
  schema: string;
  table: string;
  store: PgOutboxStore;
  drop(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const id = randomBytes(4).toString('hex');
  const schema = `bench_cdc_${id}`;
  const pool = new pg.Pool({ connectionString: PGURL, max: 8 });
  await pool.query(`create schema ${schema}`);
  const store = new PgOutboxStore({ pool, schema });
  await store.migrate();
  return {
    pool,
    schema,
    store,
    table: `${schema}.dataplane_outbox`,
    async drop() {
      await pool.query(`drop schema ${schema} cascade`);
      await pool.end();
    },
  };
}

/** Appends one event in its own transaction (autocommit). */
const append = (f: Fixture, c: pg.PoolClient, i: number) => f.store.append(c, { aggregateType: 'order', aggregateId: `a${i % 100}`, type: 'OrderPlaced', payload: { i } });

async function dropSlot(pool: pg.Pool, slot: string, publication: string) {
  await pool.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [slot]);
  await new Promise((r) => setTimeout(r, 100));
  await pool.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [slot]).catch(() => {});
  await pool.query(`drop publication if exists ${publication}`);
  await pool.query('delete from public.dataplane_cdc_slots where slot = $1', [slot]).catch(() => {});
}

/** Commits `n` one-row transactions over several connections. */
async function backlog(f: Fixture, n: number, ctx: BenchContext) {
  const workers = 8;
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const c = await f.pool.connect();
      await c.query('set synchronous_commit = off');
      for (let i = w; i < n; i += workers) {
        await append(f, c, i);
        if (++done % 2000 === 0) ctx.progress('backlog', done, n);
      }
      c.release();
    }),
  );
}

/** Commits at `rate` tx/s for `seconds`, calling `sample` every 100 ms. */
async function produceAt(f: Fixture, rate: number, seconds: number, sample: () => Promise<void>) {
  const workers = 8;
  const total = rate * seconds;
  const start = performance.now();
  const sampler = setInterval(() => void sample(), 100);
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      const c = await f.pool.connect();
      // synchronous commit: the walsender only sends flushed WAL, so async commit would add up to wal_writer_delay
      while (true) {
        const i = next++;
        if (i >= total) break;
        const due = start + (i / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        await append(f, c, i);
      }
      c.release();
    }),
  );
  clearInterval(sampler);
  achieved = total / ((performance.now() - start) / 1000);
  return total;
}

/** Commit rate the last produceAt() really sustained. */
let achieved = 0;

/**
 * An in-memory sink recording delivered events and their commit-to-delivered delays: every relay publishes to the
 * same kind of destination, so the figures compare relays.
 */
function recordingSink() {
  const delays: number[] = [];
  let rows = 0;
  const transport: Transport = {
    async publish(events) {
      const now = Date.now();
      for (const e of events) delays.push(now - Date.parse(e.occurredAt));
      rows += events.length;
    },
    async subscribe() {
      throw new Error('not used');
    },
    async close() {},
  };
  return { transport, delays, rows: () => rows };
}

/** Our outbox CDC relay on the fixture's outbox table. */
async function startOurs(f: Fixture, slot: string, publication: string) {
  const rec = recordingSink();
  const relay = createOutboxCdcRelay({ connectionString: PGURL, slot, publication, table: f.table, statusIntervalMs: 1000, transport: rec.transport });
  await relay.start();
  return { relay, ...rec };
}

/** Our polling relay (batch 256, 20 ms poll) on the same outbox table. */
async function startPolling(f: Fixture) {
  const rec = recordingSink();
  const relay = new PollingRelay({ store: f.store, batchSize: 256, transport: rec.transport });
  await relay.start();
  return { relay, ...rec };
}

/** The floor: pg-logical-replication with its defaults (auto acknowledgement of received LSNs). */
async function startFloor(f: Fixture, slot: string, publication: string, create: boolean) {
  if (create) {
    await f.pool.query(`create publication ${publication} for table ${f.table}`);
    await f.pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  }
  const delays: number[] = [];
  let rows = 0;
  let commitMs = 0;
  const svc = new LogicalReplicationService({ connectionString: PGURL });
  svc.on('data', (_lsn: string, msg: { tag: string; commitTime?: bigint }) => {
    if (msg.tag === 'begin') commitMs = Number((msg.commitTime ?? 0n) / 1000n);
    if (msg.tag === 'insert') {
      rows++;
      delays.push(Date.now() - commitMs);
    }
  });
  svc.on('error', () => {});
  void svc.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }), slot).catch(() => {});
  return { svc, delays, rows: () => rows };
}

async function waitRows(rows: () => number, n: number, ctx: BenchContext, label: string) {
  while (rows() < n) {
    ctx.progress(label, rows(), n);
    await new Promise((r) => setTimeout(r, 20));
  }
  ctx.progress(label, n, n);
}

export const cdcCases: BenchCase[] = [
  {
    name: 'cdc-drain',
    async run(ctx) {
      const n = ctx.quick ? 10_000 : 100_000;
      const results: Record<string, number> = {};
      for (const who of ['ours', 'polling', 'floor'] as const) {
        const f = await fixture();
        const id = randomBytes(3).toString('hex');
        const slot = `bench_${who}_${id}`;
        const publication = `benchpub_${who}_${id}`;
        try {
          if (who === 'polling') {
            await backlog(f, n, ctx);
            const t0 = performance.now();
            const p = await startPolling(f);
            await waitRows(p.rows, n, ctx, 'polling drain');
            results.polling = n / ((performance.now() - t0) / 1000);
            await p.relay.close();
            continue;
          }
          // create the slot first (start then stop), so the backlog is retained for the reader
          if (who === 'ours') {
            const s = createPgChangeStream({ connectionString: PGURL, slot, publication, tables: [f.table] });
            await s.start();
            await s.close();
            await backlog(f, n, ctx);
            const t0 = performance.now();
            const o = await startOurs(f, slot, publication);
            await waitRows(o.rows, n, ctx, 'ours drain');
            results.ours = n / ((performance.now() - t0) / 1000);
            await o.relay.close();
          } else {
            const created = await startFloor(f, slot, publication, true);
            await created.svc.stop();
            await backlog(f, n, ctx);
            const t0 = performance.now();
            const fl = await startFloor(f, slot, publication, false);
            await waitRows(fl.rows, n, ctx, 'floor drain');
            results.floor = n / ((performance.now() - t0) / 1000);
            await fl.svc.stop();
          }
        } finally {
          await dropSlot(f.pool, slot, publication);
          await f.drop();
        }
      }
      ctx.report({
        metric: 'backlog drain',
        unit: 'tx/s',
        higherIsBetter: true,
        ours: results.ours!,
        peers: { 'polling relay (ours, batch 256)': results.polling!, 'pg-logical-replication (plain, auto-ack)': results.floor! },
        notes: { transactions: n, eventsPerTx: 1, oursDurability: 'ack after publish confirmed', pollingDurability: 'marks sent after publish confirmed', floorDurability: 'acks received LSNs: can lose on crash' },
      });
    },
  },
  {
    name: 'cdc-latency',
    async run(ctx) {
      const rate = 5000;
      const seconds = ctx.quick ? 3 : 20;
      const out: Record<string, { p50: number; p99: number; lag: number; rate: number }> = {};
      for (const who of ['ours', 'polling', 'floor'] as const) {
        const f = await fixture();
        const id = randomBytes(3).toString('hex');
        const slot = `bench_${who}_${id}`;
        const publication = `benchpub_${who}_${id}`;
        try {
          let maxLag = 0;
          if (who === 'polling') {
            const p = await startPolling(f);
            const total = await produceAt(f, rate, seconds, async () => {});
            await waitRows(p.rows, total, ctx, 'polling @5k tx/s');
            out.polling = { p50: percentile(p.delays, 50), p99: percentile(p.delays, 99), lag: 0, rate: achieved };
            await p.relay.close();
          } else if (who === 'ours') {
            const o = await startOurs(f, slot, publication);
            const total = await produceAt(f, rate, seconds, async () => {
              const st = o.relay.stats().source as { state?: string } | undefined;
              if (st?.state !== 'streaming') return;
              const { rows } = await f.pool.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 as lag from pg_replication_slots where slot_name = $1', [slot]);
              maxLag = Math.max(maxLag, Number(rows[0]?.lag ?? 0));
            });
            await waitRows(o.rows, total, ctx, 'ours @5k tx/s');
            out.ours = { p50: percentile(o.delays, 50), p99: percentile(o.delays, 99), lag: maxLag, rate: achieved };
            await o.relay.close();
          } else {
            const fl = await startFloor(f, slot, publication, true);
            const total = await produceAt(f, rate, seconds, async () => {
              const { rows } = await f.pool.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 as lag from pg_replication_slots where slot_name = $1', [slot]);
              maxLag = Math.max(maxLag, Number(rows[0]?.lag ?? 0));
            });
            await waitRows(fl.rows, total, ctx, 'floor @5k tx/s');
            out.floor = { p50: percentile(fl.delays, 50), p99: percentile(fl.delays, 99), lag: maxLag, rate: achieved };
            await fl.svc.stop();
          }
        } finally {
          await dropSlot(f.pool, slot, publication);
          await f.drop();
        }
      }
      const peer = 'pg-logical-replication (plain, auto-ack)';
      const polling = 'polling relay (ours, batch 256)';
      const rates = { achievedTxPerSec: Math.round(out.ours!.rate), pollingAchievedTxPerSec: Math.round(out.polling!.rate), floorAchievedTxPerSec: Math.round(out.floor!.rate) };
      ctx.report({ metric: 'commit-to-delivered p50 @5k tx/s', unit: 'ms', higherIsBetter: false, ours: out.ours!.p50, peers: { [polling]: out.polling!.p50, [peer]: out.floor!.p50 }, notes: { seconds, ...rates } });
      ctx.report({ metric: 'commit-to-delivered p99 @5k tx/s', unit: 'ms', higherIsBetter: false, ours: out.ours!.p99, peers: { [polling]: out.polling!.p99, [peer]: out.floor!.p99 }, notes: { seconds, goal: 'p99 < 50 ms', latencyFrom: 'event occurredAt (set at append, just before commit)' } });
      ctx.report({ metric: 'max slot lag under load', unit: 'bytes', higherIsBetter: false, ours: out.ours!.lag, peers: { [peer]: out.floor!.lag } });
    },
  },
];
