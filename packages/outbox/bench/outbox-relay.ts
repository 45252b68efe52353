/**
 * Outbox benchmarks (issue 10), on the machine's PostgreSQL, Redis and NATS:
 * - outbox-drain-{redis,nats}-b{N}: a backlog of events is appended, then 2 polling relays drain it at batch size N;
 *   events/s until the backlog is empty. Peer "raw-publish": the same events published straight to the broker
 *   (pipelined XADD / concurrent JetStream publishes) with no database, the transport's floor.
 * - outbox-e2e-{redis,nats}: producers commit events at a target rate (a transaction of rate/100 events every 10 ms,
 *   up to 4 in flight); 2 polling relays (batch 256); one consumer with a pg inbox (group commit in 2 lanes, up to 512
 *   events in flight); events/s handled and commit-to-handled latency p50/p99 (from just before COMMIT to the end of
 *   the inbox transaction), plus CPU per 1,000 events of this process, its PostgreSQL backends and Redis. Production
 *   starts with a 3 s warm-up at the same rate (relays and consumer start, JIT, pools fill) whose
 *   events count for throughput but not for the latency percentiles; their p99 is reported as a note (warmupP99Ms).
 * - outbox-e2e-{redis,nats}-cdc: the same with the CDC relay (createOutboxCdcRelay) publishing instead of the polling relays;
 *   needs wal_level=logical (skipped otherwise).
 * Knobs for experiments: OUTBOX_BENCH_RATE, _INFLIGHT, _LANES, _GROUP, _BATCH, _RELAYS, _ONSENT=delete, _WARMUP_MS,
 * _NATS_ORDERED=0 (NATS subscriber without orderedDelivery), _NATS_PID=<pid> (count only this nats-server's CPU),
 * _TRACE=<file> (latency per 100 ms of commit time).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { percentile, type BenchCase, type BenchContext } from '@dataplane/bench';
import { Consumer, PollingRelay, createEvent, type Transport } from '@dataplane/outbox';
import { PgInbox, PgOutboxStore, type PgPoolLike, type PgQueryable } from '@dataplane/outbox/pg';
import { RedisStreamsTransport } from '@dataplane/outbox/redis';
import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
import { createOutboxCdcRelay } from '@dataplane/outbox/pg-cdc';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

interface Env {
  pool: pg.Pool;
  schema: string;
  transport: Transport;
  raw: (n: number) => Promise<void>;
  /** CPU seconds the broker has used so far (Redis INFO; nats-server from /proc), when known. */
  brokerCpu?: () => Promise<number>;
  done(): Promise<void>;
}

/**
 * CPU seconds (user + system) used so far by this database's backends whose application_name is `name` (Linux /proc).
 * The e2e case gives producers, relays and the consumer's inbox their own pools (`<schema>_prod`, `_relay`, `_inbox`).
 */
async function pgCpuSeconds(pool: pg.Pool, name: string): Promise<number> {
  const r = await pool.query('select pid from pg_stat_activity where application_name = $1', [name]);
  let ticks = 0;
  for (const row of r.rows as Array<{ pid: number }>) {
    try {
      const f = readFileSync(`/proc/${row.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // not Linux, or the backend is gone
    }
  }
  return ticks / 100;
}

/**
 * CPU seconds (user + system) used so far by the local nats-server process(es) (Linux /proc; 0 elsewhere), or by the
 * one process OUTBOX_BENCH_NATS_PID names (a private server at NATS_URL: other work on a shared server is not counted).
 */
function natsServerCpuSeconds(): number {
  let ticks = 0;
  const only = process.env.OUTBOX_BENCH_NATS_PID;
  try {
    for (const pid of only === undefined ? readdirSync('/proc') : [only]) {
      if (!/^[0-9]+$/.test(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'nats-server') continue;
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks += Number(f[11]) + Number(f[12]); // utime, stime
      } catch {
        // the process is gone
      }
    }
  } catch {
    // not Linux
  }
  return ticks / 100;
}

async function env(kind: 'redis' | 'nats'): Promise<Env> {
  const id = randomBytes(4).toString('hex');
  const schema = `bench_outbox_${id}`;
  const pool = new pg.Pool({ connectionString: PGURL, max: 12, application_name: schema });
  await pool.query(`create schema ${schema}`);
  if (kind === 'redis') {
    const redis = new Redis(REDIS_URL);
    const prefix = `dp:bench:${id}`;
    const transport = new RedisStreamsTransport({ client: redis, prefix, blockMs: 50 });
    const rawT = new RedisStreamsTransport({ client: redis, prefix: `${prefix}:raw` });
    return {
      pool, schema, transport,
      brokerCpu: async () => {
        const info = await redis.info('cpu');
        const v = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
        return v('used_cpu_sys') + v('used_cpu_user');
      },
      raw: (n) => rawT.publish(Array.from({ length: n }, (_, i) => createEvent({ aggregateType: 'acct', aggregateId: `a${i % 100}`, type: 'Step', payload: { n: i } }))),
      async done() {
        await transport.close();
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
        await pool.query(`drop schema ${schema} cascade`);
        await pool.end();
      },
    };
  }
  const nc: NatsConnection = await connect({ servers: NATS_URL });
  const stream = `DPBENCH_${id}`;
  const transport = new NatsJetStreamTransport({ connection: nc, stream, subjectPrefix: `dpb${id}`, orderedDelivery: process.env.OUTBOX_BENCH_NATS_ORDERED !== '0' });
  // the floor: no per-aggregate rounds (its events cycle through 100 aggregates)
  const rawT = new NatsJetStreamTransport({ connection: nc, stream: `${stream}_RAW`, subjectPrefix: `dpbraw${id}`, strictOrder: false });
  return {
    pool, schema, transport,
    brokerCpu: async () => natsServerCpuSeconds(),
    raw: async (n) => {
      for (let i = 0; i < n; i += 1000) await rawT.publish(Array.from({ length: Math.min(1000, n - i) }, (_, j) => createEvent({ aggregateType: 'acct', aggregateId: `a${j % 100}`, type: 'Step', payload: { n: i + j } })));
    },
    async done() {
      await transport.close();
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream).catch(() => {});
      await jsm.streams.delete(`${stream}_RAW`).catch(() => {});
      await nc.close();
      await pool.query(`drop schema ${schema} cascade`);
      await pool.end();
    },
  };
}

/** Counts the statements run through a pool, by kind (what each relay cycle and inbox transaction issues). */
function countingPool(pool: pg.Pool, counts: Map<string, number>): PgPoolLike {
  const kind = (text: string): string => {
    const t = text.slice(0, 80).replace(/\s+/g, ' ').trim(); // the start says what it is (inbox statements are long)
    if (t.startsWith('begin; with cand') || t.startsWith('begin isolation level read committed; with cand')) return 'claim';
    if (t.startsWith('select exists')) return 'idleCheck';
    if (t.startsWith('begin; insert')) return 'inboxBeginInsert';
    if (t.startsWith('update') || t.startsWith('delete from')) return 'mark';
    return t.split(' ').slice(0, 3).join(' ').replace(/bench_outbox_[0-9a-f]+\./g, '');
  };
  const add = (text: string): void => {
    const k = kind(text);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  return {
    query: (text, values) => {
      add(text);
      return pool.query(text, values) as never;
    },
    connect: async () => {
      const c = await pool.connect();
      return {
        query: (text: string, values?: unknown[]) => {
          add(text);
          return c.query(text, values) as never;
        },
        release: (err?: boolean | Error) => c.release(err),
      };
    },
  };
}

async function appendBacklog(store: PgOutboxStore, pool: pg.Pool, n: number): Promise<void> {
  const per = 500;
  for (let i = 0; i < n; i += per) {
    const c = await pool.connect();
    await c.query('begin');
    await store.append(c, Array.from({ length: Math.min(per, n - i) }, (_, j) => ({ aggregateType: 'acct', aggregateId: `a${(i + j) % 1000}`, type: 'Step', payload: { n: i + j } })));
    await c.query('commit');
    c.release();
  }
}

function drainCase(kind: 'redis' | 'nats', batch: number): BenchCase {
  return {
    name: `outbox-drain-${kind}-b${batch}`,
    async run(ctx: BenchContext) {
      const n = ctx.quick ? 10_000 : 50_000;
      const e = await env(kind);
      try {
        const store = new PgOutboxStore({ pool: e.pool, schema: e.schema, table: `ob_${batch}`, partitions: 16, partitionsPerClaim: 8 });
        await store.migrate();
        await appendBacklog(store, e.pool, n);
        const relays = [0, 1].map(() => new PollingRelay({ store, transport: e.transport, batchSize: batch, pollIntervalMs: 5 }));
        const t0 = performance.now();
        await Promise.all(relays.map((r) => r.start()));
        while (relays.reduce((s, r) => s + r.stats().published, 0) < n) await new Promise((r) => setTimeout(r, 5));
        const ours = n / ((performance.now() - t0) / 1000);
        await Promise.all(relays.map((r) => r.close()));
        const t1 = performance.now();
        await e.raw(n);
        const raw = n / ((performance.now() - t1) / 1000);
        ctx.report({ metric: 'drain throughput', unit: 'events/s', higherIsBetter: true, ours, peers: { 'raw-publish': raw }, notes: { events: n, relays: 2, batch } });
      } finally {
        await e.done();
      }
    },
  };
}

function e2eCase(kind: 'redis' | 'nats', publisher: 'polling' | 'cdc' = 'polling'): BenchCase {
  return {
    name: publisher === 'cdc' ? `outbox-e2e-${kind}-cdc` : `outbox-e2e-${kind}`,
    async run(ctx: BenchContext) {
      const seconds = ctx.quick ? 4 : 10;
      // warm-up ticks (10 ms each) at the same rate, left out of the latency percentiles
      const warmTicks = Math.round(Number(process.env.OUTBOX_BENCH_WARMUP_MS ?? 3000) / 10);
      const rate = Number(process.env.OUTBOX_BENCH_RATE ?? 10_000);
      const inflight = Number(process.env.OUTBOX_BENCH_INFLIGHT ?? 512);
      const lanes = Number(process.env.OUTBOX_BENCH_LANES ?? 2);
      const group = Number(process.env.OUTBOX_BENCH_GROUP ?? 128);
      const batch = Number(process.env.OUTBOX_BENCH_BATCH ?? 256);
      const relayCount = Number(process.env.OUTBOX_BENCH_RELAYS ?? 2);
      const onSent = process.env.OUTBOX_BENCH_ONSENT === 'delete' ? 'delete' : 'mark';
      const e = await env(kind);
      try {
        if (publisher === 'cdc' && (await e.pool.query('show wal_level')).rows[0]!.wal_level !== 'logical') {
          process.stderr.write(`[bench outbox] ${kind}-cdc skipped: the server at PGURL needs wal_level=logical\n`);
          return;
        }
        // producers, relays and the consumer's inbox each get a pool of their own, so PostgreSQL CPU splits by role
        const roles = ['prod', 'relay', 'inbox'] as const;
        const pools = Object.fromEntries(roles.map((r) => [r, new pg.Pool({ connectionString: PGURL, max: r === 'relay' ? relayCount + 2 : r === 'inbox' ? lanes + 2 : 6, application_name: `${e.schema}_${r}` })])) as Record<(typeof roles)[number], pg.Pool>;
        const sqlCounts = { relay: new Map<string, number>(), inbox: new Map<string, number>() };
        const store = new PgOutboxStore({ pool: countingPool(pools.relay, sqlCounts.relay), schema: e.schema, table: 'ob', partitions: 16, partitionsPerClaim: 8, onSent });
        await store.migrate();
        const inbox = new PgInbox({ pool: countingPool(pools.inbox, sqlCounts.inbox), schema: e.schema, concurrency: lanes, maxGroupSize: group });
        await inbox.migrate();
        sqlCounts.relay.clear();
        sqlCounts.inbox.clear();
        const pgRoleCpu = async (): Promise<number[]> => Promise.all(roles.map((r) => pgCpuSeconds(e.pool, `${e.schema}_${r}`)));
        const lat: number[] = [];
        const warmLat: number[] = [];
        // OUTBOX_BENCH_TRACE=<file>: per 100 ms of commit time, events, p50 and max latency (where stalls happen)
        const trace = process.env.OUTBOX_BENCH_TRACE ? ([] as number[]) : undefined;
        let commitAt = new Float64Array(0);
        const consumer = new Consumer<PgQueryable>({
          name: 'bench', transport: e.transport, inbox, aggregateTypes: ['acct'], maxInFlight: inflight,
          handler: async () => {},
        });
        // latency is recorded when the inbox transaction has committed: wrap the inbox
        const proc = inbox.process.bind(inbox);
        inbox.process = async (c, ev, eff) => {
          const r = await proc(c, ev, eff);
          if (r === 'handled') {
            const k = (ev.payload as { k: number }).k;
            const ms = performance.now() - commitAt[k]!;
            (k < warmTicks ? warmLat : lat).push(ms);
            trace?.push(k, ms);
          }
          return r;
        };
        // publish-call durations (the PubAck round trips a relay waits for), NATS and Redis alike
        const pubMs: number[] = [];
        const pub = e.transport.publish.bind(e.transport);
        e.transport.publish = async (evs, o) => {
          const t = performance.now();
          await pub(evs, o);
          pubMs.push(performance.now() - t);
        };
        await consumer.start();
        const relays = publisher === 'cdc' ? [] : Array.from({ length: relayCount }, () => new PollingRelay({ store, transport: e.transport, batchSize: batch, pollIntervalMs: 5 }));
        await Promise.all(relays.map((r) => r.start()));
        // the CDC relay (one reader of the slot) publishes from the WAL instead of the two polling relays
        const cdc = publisher === 'cdc' ? createOutboxCdcRelay({ connectionString: PGURL, slot: e.schema, publication: `${e.schema}_pub`, table: store.table, transport: e.transport }) : undefined;
        await cdc?.start();
        const perTick = Math.max(1, Math.round(rate / 100)); // one transaction every 10 ms
        const ticks = warmTicks + 100 * seconds;
        const total = perTick * ticks;
        // the moment each transaction's COMMIT was sent: commit-to-handled is measured from there
        commitAt = new Float64Array(ticks);
        let sent = 0;
        let outstanding = 0;
        const inFlight = new Set<Promise<void>>();
        const cpu0 = { node: process.cpuUsage(), pg: await pgRoleCpu(), broker: (await e.brokerCpu?.()) ?? 0 };
        const counts0 = { relay: new Map(sqlCounts.relay), inbox: new Map(sqlCounts.inbox) };
        const t0 = performance.now();
        for (let tick = 0; tick < ticks; tick++) {
          // transactions start on the 10 ms clock, up to 4 at once (a slow commit does not hold the next one back)
          while (outstanding >= 4) await Promise.race(inFlight);
          outstanding++;
          const p = (async () => {
            const c = await pools.prod.connect();
            await c.query('begin');
            await store.append(c, Array.from({ length: perTick }, (_, j) => ({ aggregateType: 'acct', aggregateId: `a${(tick * perTick + j) % 1000}`, type: 'Step', payload: { k: tick } })));
            commitAt[tick] = performance.now();
            await c.query('commit');
            c.release();
            sent += perTick;
            ctx.progress('produce', sent, total);
          })().finally(() => {
            outstanding--;
            inFlight.delete(p);
          });
          inFlight.add(p);
          const wait = t0 + (tick + 1) * 10 - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await Promise.all(inFlight);
        const produceSecs = (performance.now() - t0) / 1000;
        // where the backlog is when production ends: still in the outbox, or published and not yet handled
        // (polling relays only: the CDC relay leaves rows unmarked)
        const published = relays.reduce((n, r) => n + r.stats().published, 0);
        const atEnd: Record<string, number> = cdc === undefined ? { unsentAtEnd: total - published, unhandledAtEnd: published - consumer.stats().handled } : {};
        const deadline = Date.now() + 120_000;
        while (consumer.stats().handled < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const secs = (performance.now() - t0) / 1000;
        // CPU per 1,000 events handled, by process: the machine's 2 cores are the budget
        const nodeCpu = process.cpuUsage(cpu0.node);
        const perK = (s: number) => Math.round((s * 1000 * 1000) / Math.max(1, consumer.stats().handled));
        const pgCpu = (await pgRoleCpu()).map((v, i) => v - cpu0.pg[i]!);
        const cpu: Record<string, number> = {
          cpuMsPer1kNode: perK((nodeCpu.user + nodeCpu.system) / 1e6),
          cpuMsPer1kPostgres: perK(pgCpu.reduce((a, b) => a + b, 0)),
          cpuMsPer1kPgProducers: perK(pgCpu[0]!),
          cpuMsPer1kPgRelays: perK(pgCpu[1]!),
          cpuMsPer1kPgInbox: perK(pgCpu[2]!),
        };
        // statements per 1,000 events handled while measuring, by kind (relay: claim, idleCheck, mark, rollback...)
        const sqlPer1k: Record<string, number> = {};
        for (const side of ['relay', 'inbox'] as const) {
          for (const [k, v] of sqlCounts[side]) sqlPer1k[`sql_${side}_${k}`] = Math.round(((v - (counts0[side].get(k) ?? 0)) * 1000 * 10) / Math.max(1, consumer.stats().handled)) / 10;
        }
        process.stderr.write(`[bench outbox] ${kind} statements per 1,000 events: ${JSON.stringify(sqlPer1k)}\n`);
        if (e.brokerCpu !== undefined) cpu.cpuMsPer1kBroker = perK((await e.brokerCpu()) - cpu0.broker);
        await Promise.all(relays.map((r) => r.close()));
        await cdc?.close();
        await consumer.close();
        await Promise.all(Object.values(pools).map((p) => p.end()));
        if (cdc !== undefined) {
          await e.pool.query('select pg_drop_replication_slot($1)', [e.schema]).catch(() => {});
          await e.pool.query(`drop publication if exists ${e.schema}_pub`);
          await e.pool.query('delete from public.dataplane_cdc_slots where slot = $1', [e.schema]).catch(() => {});
        }
        const samples = lat;
        if (trace !== undefined) {
          const buckets = new Map<number, number[]>();
          for (let i = 0; i < trace.length; i += 2) {
            const b = Math.floor(trace[i]! / 10);
            const l = buckets.get(b) ?? [];
            l.push(trace[i + 1]!);
            buckets.set(b, l);
          }
          const rows = [...buckets].sort((x, y) => x[0] - y[0]).map(([b, l]) => `${b * 100}\t${l.length}\t${percentile(l, 50).toFixed(1)}\t${Math.max(...l).toFixed(1)}`);
          writeFileSync(process.env.OUTBOX_BENCH_TRACE!, `commit_ms\tevents\tp50_ms\tmax_ms\n${rows.join('\n')}\n`);
        }
        // NATS: how many PubAck rounds each publish call took (strictOrder), and what the subscriber saw
        const ts = e.transport instanceof NatsJetStreamTransport ? e.transport.stats() : undefined;
        const natsNotes: Record<string, number> = ts === undefined ? {} : {
          natsPublishCalls: ts.publishBatches, natsRoundsPerCall: Math.round((ts.publishRounds / Math.max(1, ts.publishBatches)) * 100) / 100,
          natsEventsPerCall: Math.round(ts.published / Math.max(1, ts.publishBatches)), natsPublishFailures: ts.publishFailures, natsDelivered: ts.delivered,
        };
        ctx.report({ metric: 'end-to-end handled', unit: 'events/s', higherIsBetter: true, ours: consumer.stats().handled / secs, peers: {}, notes: { publisher, targetRate: rate, producedPerSec: Math.round(total / produceSecs), events: total, relays: publisher === 'cdc' ? 0 : relayCount, relayBatch: batch, onSent, inboxMaxGroupSize: group, consumerMaxInFlight: inflight, inboxLanes: lanes, inboxTransactions: inbox.stats().transactions, inboxMaxGroup: inbox.stats().maxGroup, relayBatches: relays.reduce((n, r) => n + r.stats().batches, 0), ...cpu, ...sqlPer1k, ...atEnd, ...natsNotes, publishCallP50Ms: Math.round(percentile(pubMs, 50) * 10) / 10, publishCallP99Ms: Math.round(percentile(pubMs, 99) * 10) / 10, warmupMs: warmTicks * 10, warmupP99Ms: Math.round(percentile(warmLat, 99)) } });
        ctx.report({ metric: 'commit-to-handled p50', unit: 'ms', higherIsBetter: false, ours: percentile(samples, 50), peers: {} });
        ctx.report({ metric: 'commit-to-handled p99', unit: 'ms', higherIsBetter: false, ours: percentile(samples, 99), peers: {} });
      } finally {
        await e.done();
      }
    },
  };
}

export const outboxCases: BenchCase[] = [
  drainCase('redis', 64),
  drainCase('redis', 256),
  drainCase('redis', 1024),
  drainCase('nats', 256),
  drainCase('nats', 1024),
  e2eCase('redis'),
  e2eCase('nats'),
  e2eCase('redis', 'cdc'),
  e2eCase('nats', 'cdc'),
];
