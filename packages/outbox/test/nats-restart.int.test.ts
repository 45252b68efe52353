/**
 * pg outbox -> 2 polling relays -> NATS JetStream -> Consumer with a pg inbox, while a private `nats-server -js` (on a
 * free port, with its own store directory, so the machine's shared NATS is untouched) is SIGKILLed and restarted
 * twice. Publishes in flight lose their PubAcks, deliveries in flight and acks are lost, the client reconnects.
 * At the end every event's effect exists exactly once, in order per aggregate. Fails when `nats-server` is not on the
 * PATH.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Consumer, PollingRelay } from '@dataplane/outbox';
import { PgInbox, PgOutboxStore, type PgQueryable } from '@dataplane/outbox/pg';
import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
import { freePort } from './fixtures/chaos-harness.js';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const hasNats = spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0;
const id = randomBytes(4).toString('hex');
const schema = `outbox_natsrs_${id}`;
const pool = new pg.Pool({ connectionString: PGURL, max: 10 });
const dir = mkdtempSync(join(tmpdir(), 'dp-nats-'));
let proc: ChildProcess | undefined;

async function startNats(port: number): Promise<void> {
  proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500 });
      await (await nc.jetstreamManager()).getAccountInfo();
      await nc.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('private nats-server did not start');
}

async function killNats(): Promise<void> {
  const p = proc;
  if (p === undefined || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  await killNats();
  rmSync(dir, { recursive: true, force: true });
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
});

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('NATS JetStream transport across nats-server restarts', () => {
  it('every event applied exactly once, none lost', async () => {
    // scripts/services.sh installs nats-server; without it this test must fail, not pass by skipping
    expect(hasNats, 'nats-server is not on PATH (run scripts/services.sh)').toBe(true);
    const port = await freePort();
    await startNats(port);
    const nc: NatsConnection = await connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    const transport = new NatsJetStreamTransport({ connection: nc, stream: 'RESTART', subjectPrefix: 'rs', publishTimeoutMs: 1_000, ackWaitMs: 2_000, pullExpiresMs: 2_000 });
    await pool.query(`create schema ${schema}`);
    await pool.query(`create table ${schema}.effects (seq bigserial, event_id uuid not null, agg text not null, n int not null)`);
    const store = new PgOutboxStore({ pool, schema, table: 'ob', partitions: 8, partitionsPerClaim: 4 });
    await store.migrate();
    const inbox = new PgInbox({ pool, schema });
    await inbox.migrate();
    const consumer = new Consumer<PgQueryable>({
      name: 'restart', transport, inbox, aggregateTypes: ['acct'], maxInFlight: 128,
      handler: async (e, c) => {
        await c.query(`insert into ${schema}.effects (event_id, agg, n) values ($1, $2, $3)`, [e.id, e.aggregateId, (e.payload as { n: number }).n]);
      },
    });
    const relays = [0, 1].map(() => new PollingRelay({ store, transport, batchSize: 100, pollIntervalMs: 5, backoff: { initialMs: 20, maxMs: 200 } }));
    try {
      await consumer.start();
      await Promise.all(relays.map((r) => r.start()));
      const A = 30;
      const T = 100; // transactions; each appends the next event of every aggregate
      for (let n = 0; n < T; n++) {
        const c = await pool.connect();
        await c.query('begin');
        await store.append(c, Array.from({ length: A }, (_, a) => ({ aggregateType: 'acct', aggregateId: `a${a}`, type: 'Step', payload: { n } })));
        await c.query('commit');
        c.release();
        if (n === 30 || n === 65) {
          await killNats();
          await new Promise((r) => setTimeout(r, 300));
          await startNats(port);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const total = A * T;
      await until(async () => (await pool.query(`select count(distinct event_id)::int c from ${schema}.effects`)).rows[0]!.c === total, 90_000);
      expect(await store.backlog()).toBe(0);
      // exactly once: no event applied twice (redeliveries and republishes were absorbed)
      expect((await pool.query(`select count(*)::int c from ${schema}.effects`)).rows[0]!.c).toBe(total);
      const per = await pool.query(`select agg, count(*)::int c, min(n)::int mn, max(n)::int mx from ${schema}.effects group by agg`);
      expect(per.rows).toHaveLength(A);
      for (const r of per.rows as { c: number; mn: number; mx: number }[]) expect([r.c, r.mn, r.mx]).toEqual([T, 0, T - 1]);
      // in order per aggregate: each effect's n is one more than the previous effect's of its aggregate. A delivery
      // lost in transit shows as a gap in the consumer's delivery sequence and the subscriber re-creates the consumer
      // from its ack floor (orderedDelivery), instead of getting it back after ack_wait behind later ones. Measured
      // here (8 runs): 1-2 such re-creations per run, ~850-1,800 duplicate deliveries, 0 inversions.
      const inversions = await pool.query(
        `select count(*)::int c from (select n, lag(n) over (partition by agg order by seq) p from ${schema}.effects) x where p is not null and n <> p + 1`,
      );
      expect(inversions.rows[0]!.c).toBe(0);
      expect(relays.reduce((f, r) => f + r.stats().failures, 0)).toBeGreaterThan(0); // the restarts did hit publishes
    } finally {
      await Promise.all(relays.map((r) => r.close()));
      await consumer.close();
      await transport.close();
      await nc.close();
    }
  }, 180_000);
});
