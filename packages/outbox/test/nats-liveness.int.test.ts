/**
 * NatsJetStreamTransport liveness (issue #10), against the machine's NATS server with a stream and lease bucket of
 * its own per test: a subscribe whose lease bucket cannot be opened at first resolves as a standby and consumes once
 * NATS answers; a subscriber whose durable consumer is deleted under it opens it again and handles every event, in
 * order per aggregate.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsJetStreamTransport, type NatsJetStreamTransportOptions } from '@dataplane/outbox/nats';
import { events, until, orderWatch, stallProxy } from './fixtures/nats-kit.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
let nc: NatsConnection;
let n = 0;
const streams: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});
afterAll(async () => {
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

function fresh(): (connection: NatsConnection, extra?: Partial<NatsJetStreamTransportOptions>) => NatsJetStreamTransportOptions {
  const k = `${run}_${n++}`;
  const stream = `DPLV_${k}`;
  const bucket = `dplv_${k}`;
  streams.push(stream, `KV_${bucket}`);
  return (connection, extra = {}) => ({ connection, stream, subjectPrefix: `dplv${k}`, leaseBucket: bucket, leaseTtlMs: 2_000, pullExpiresMs: 1_000, ...extra });
}

describe('NatsJetStreamTransport liveness', () => {
  it('subscribe while JetStream does not answer (lease bucket cannot be opened): resolves as a standby, consumes once NATS answers', async () => {
    const opts = fresh();
    const proxy = await stallProxy(NATS_URL);
    const pnc = await connect({ servers: proxy.url });
    const errors: unknown[] = [];
    const t = new NatsJetStreamTransport(opts(pnc, { onError: (e) => errors.push(e) }));
    const producer = new NatsJetStreamTransport(opts(nc));
    try {
      await t.publish(events(1, 1, 1000)); // the stream exists: the first thing to time out is the lease bucket
      const evs = events(200, 8);
      const w = orderWatch(evs);
      proxy.stall();
      const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c' }, async (e) => w.see(e.id));
      expect(t.stats().leaseHeld).toBe(0);
      expect(errors.map(String).join('\n')).toMatch(/lease bucket/);
      proxy.heal();
      await producer.publish(evs);
      await until(w.complete, 30_000);
      expect(w.inversions).toEqual([]);
      expect(t.stats().leaseHeld).toBe(1);
      await sub.close();
    } finally {
      proxy.heal();
      await t.close();
      await producer.close();
      await pnc.close();
      proxy.close();
    }
  }, 60_000);

  it('bad configuration still fails subscribe at once: a lease bucket whose entries never expire, a stream whose subjects another stream has', async () => {
    const opts = fresh();
    const o = opts(nc);
    await nc.jetstream().views.kv(o.leaseBucket!, { ttl: 0, history: 1 }); // max_age 0: never expires
    const t = new NatsJetStreamTransport(o);
    await expect(t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async () => {})).rejects.toMatchObject({ code: 'OUTBOX_INVALID_ARGUMENT' });
    expect(t.stats().leaseHeld).toBe(0);
    await t.close();
    // a second stream on the same subjects: the server refuses it (400), which is no reason to retry
    const other = `${o.stream!}_B`;
    streams.push(other);
    const u = new NatsJetStreamTransport({ ...o, stream: other, leaseBucket: `${o.leaseBucket!}_b` });
    await new NatsJetStreamTransport(o).publish(events(1, 1));
    await expect(u.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async () => {})).rejects.toMatchObject({ code: 'OUTBOX_TRANSPORT_UNAVAILABLE' });
    streams.push(`KV_${o.leaseBucket!}_b`);
    await u.close();
  });

  it('the durable consumer is deleted under a running subscriber while events flow: it is opened again, every event is handled, in order per aggregate', async () => {
    const opts = fresh();
    const errors: unknown[] = [];
    const t = new NatsJetStreamTransport(opts(nc, { onError: (e) => errors.push(e) }));
    const producer = new NatsJetStreamTransport(opts(nc));
    const evs = events(3_000, 20);
    const w = orderWatch(evs);
    let handled = 0;
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c', maxInFlight: 16 }, async (e) => {
      await new Promise((r) => setTimeout(r, 1));
      w.see(e.id);
      handled++;
    });
    try {
      const jsm = await nc.jetstreamManager();
      const stream = opts(nc).stream!;
      let deleted = false;
      for (let i = 0; i < evs.length; i += 100) {
        await producer.publish(evs.slice(i, i + 100));
        if (!deleted && handled > 500) {
          await jsm.consumers.delete(stream, 'g');
          deleted = true;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(deleted).toBe(true);
      await until(w.complete, 40_000);
      expect(w.inversions).toEqual([]);
      expect(t.stats().reopens).toBeGreaterThanOrEqual(1);
      expect(t.stats().leaseHeld).toBe(1);
    } finally {
      await sub.close();
      await t.close();
      await producer.close();
    }
  }, 90_000);

  it('without orderedDelivery too: a deleted durable consumer is created again and every event is handled', async () => {
    const opts = fresh();
    const t = new NatsJetStreamTransport(opts(nc, { orderedDelivery: false }));
    const producer = new NatsJetStreamTransport(opts(nc));
    const evs = events(1_000, 10);
    const seen = new Set<string>();
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'], maxInFlight: 16 }, async (e) => void seen.add(e.id));
    try {
      await producer.publish(evs.slice(0, 500));
      await until(() => seen.size >= 100, 20_000);
      await (await nc.jetstreamManager()).consumers.delete(opts(nc).stream!, 'g');
      await producer.publish(evs.slice(500));
      await until(() => evs.every((e) => seen.has(e.id)), 40_000);
      expect(t.stats().reopens).toBeGreaterThanOrEqual(1);
    } finally {
      await sub.close();
      await t.close();
      await producer.close();
    }
  }, 60_000);
});
