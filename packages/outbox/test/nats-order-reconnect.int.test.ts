/**
 * A delivery lost in transit, on the machine's NATS server: a TCP proxy between the subscriber and nats-server
 * swallows the bytes that carry event n and cuts the connection. nats.js reconnects and pulls again; JetStream holds
 * event n as delivered-but-unacknowledged until ack_wait (30 s here) and delivers event n+1 at once. The subscriber
 * must notice the gap in the consumer's delivery sequence and hand over n before n+1 (orderedDelivery).
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '@dataplane/outbox';
import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
import { startLossyProxy, type LossyProxy } from './fixtures/lossy-proxy.js';

const NATS_URL = new URL(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
const run = randomBytes(4).toString('hex');
const proxies: LossyProxy[] = [];
let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: `${NATS_URL.hostname}:${NATS_URL.port || 4222}` });
});
afterAll(async () => {
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
  for (const p of proxies) p.close();
});

/** Waits for `cond` or `ms`, whichever comes first (the assertions that follow say what was missing). */
async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('NATS subscriber across a delivery lost in transit', () => {
  it('hands event n over before n+1 when the bytes that delivered n were lost with the connection', async () => {
    const proxy = await startLossyProxy(NATS_URL.hostname, Number(NATS_URL.port || 4222));
    proxies.push(proxy);
    const ncp = await connect({ servers: `127.0.0.1:${proxy.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    let reconnects = 0;
    void (async () => {
      for await (const s of ncp.status()) if (s.type === 'reconnect') reconnects++;
    })();
    const stream = `DPNR_${run}`;
    const prefix = `dpnr${run}`;
    streams.push(stream);
    const opts = { stream, subjectPrefix: prefix, ackWaitMs: 30_000, pullExpiresMs: 2_000 };
    const pub = new NatsJetStreamTransport({ connection: nc, ...opts });
    const sub = new NatsJetStreamTransport({ connection: ncp, ...opts, onError: () => {} });
    const [e0, e1, e2] = [0, 1, 2].map((n) => createEvent({ aggregateType: 'acct', aggregateId: 'x', type: 'Step', payload: n }));
    await pub.publish([createEvent({ aggregateType: 'acct', aggregateId: 'w', type: 'Warm', payload: -1 })]);
    const seen: number[] = [];
    const s = await sub.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => void seen.push(e.payload as number));
    await until(() => seen.length >= 1);
    // event 0 is delivered into the proxy, which swallows it and cuts the connection
    proxy.dropChunkWith(e0!.id);
    await pub.publish([e0!]);
    await until(() => proxy.dropped() && reconnects > 0);
    await ncp.flush();
    // events 1 and 2 reach the subscriber on the new connection while event 0 waits for ack_wait on the server
    await pub.publish([e1!, e2!]);
    await until(() => seen.filter((n) => n >= 0).length >= 3);
    expect(proxy.dropped()).toBe(true);
    expect(reconnects).toBeGreaterThan(0);
    // a resync may hand an event over twice (the inbox absorbs it), but never event 1 before event 0
    expect(seen.filter((n) => n >= 0).slice(0, 3)).toEqual([0, 1, 2]);
    expect(sub.stats().resyncs).toBeGreaterThanOrEqual(1);
    await s.close();
    await sub.close();
    await pub.close();
    await ncp.close();
  }, 60_000);
});
