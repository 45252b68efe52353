/**
 * NatsJetStreamTransport keeps order per aggregate after a lost delivery (issue #10), against the machine's NATS
 * server. A raw nats.js reader on the same durable consumer stands in for a lost delivery: it takes messages and
 * never acks them, as a subscriber SIGKILLed with messages in hand does, or as a delivery lost in transit is. JetStream
 * gives such messages back only after ack_wait (30 s here), so a subscriber that does not notice the loss hands
 * later events of the same aggregates over first.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxError } from '@dataplane/outbox';
import { NatsJetStreamTransport, type NatsJetStreamTransportOptions } from '@dataplane/outbox/nats';
import { events, until, orderWatch } from './fixtures/nats-kit.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const ACK_WAIT_MS = 30_000;
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

function fresh(extra: Partial<NatsJetStreamTransportOptions> = {}): { t: NatsJetStreamTransport; stream: string; prefix: string } {
  const k = `${run}_${n++}`;
  const stream = `DPNO_${k}`;
  const prefix = `dpno${k}`;
  streams.push(stream);
  return { t: new NatsJetStreamTransport({ connection: nc, stream, subjectPrefix: prefix, ackWaitMs: ACK_WAIT_MS, ...extra }), stream, prefix };
}

/** Creates the stream, and the durable consumer the way `subscribe` does (same config), so a raw reader can use it first. */
async function durable(stream: string, prefix: string, group: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  await jsm.consumers.add(stream, { durable_name: group, ack_policy: 'explicit' as never, ack_wait: ACK_WAIT_MS * 1_000_000, filter_subject: `${prefix}.acct`, max_ack_pending: 1000 });
}

describe('NatsJetStreamTransport order per aggregate after a lost delivery', () => {
  it('a reader that went away with deliveries in hand: the next subscriber hands them over first, in stream order', async () => {
    const { t, stream, prefix } = fresh();
    await durable(stream, prefix, 'g');
    const evs = events(60, 6);
    await t.publish(evs);
    // the "killed" reader: takes the first 5 deliveries (the first event of a0..a4), never acks, goes away
    const nc2 = await connect({ servers: NATS_URL });
    const took: number[] = [];
    for await (const m of await (await nc2.jetstream().consumers.get(stream, 'g')).fetch({ max_messages: 5, expires: 5_000 })) took.push(m.seq);
    await nc2.close();
    expect(took).toEqual([1, 2, 3, 4, 5]);

    const watch = orderWatch(evs);
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => watch.see(e));
    // with the old subscriber the first inversion comes at once and the lost events only after ack_wait
    await until(() => watch.complete() || watch.inversions.length > 0);
    await sub.close();
    expect(watch.inversions).toEqual([]);
    expect(watch.complete()).toBe(true);

    // the re-created consumer (it starts at a stream sequence) is taken up again by the next subscribe
    const more = events(12, 6);
    await t.publish(more);
    const watch2 = orderWatch(more);
    const sub2 = await t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => watch2.see(e));
    await until(() => watch2.complete() || watch2.inversions.length > 0);
    await sub2.close();
    expect(watch2.inversions).toEqual([]);
    await t.close();
  }, 90_000);

  it('a delivery taken by another reader while the subscriber runs: it stops, re-creates the consumer and goes on in order', async () => {
    const { t, stream, prefix } = fresh();
    await durable(stream, prefix, 'g');
    // the other reader's pull request waits first, so the server routes the first message (a0's first event) to it
    const nc2 = await connect({ servers: NATS_URL });
    const took: number[] = [];
    const fetch = await (await nc2.jetstream().consumers.get(stream, 'g')).fetch({ max_messages: 2, expires: 10_000 });
    const reading = (async () => {
      for await (const m of fetch) took.push(m.seq);
    })().catch(() => {}); // ends with an error when the consumer is re-created under it
    await nc2.flush();
    const jsm = await nc.jetstreamManager();
    await until(async () => (await jsm.consumers.info(stream, 'g')).num_waiting > 0);

    const evs = events(30, 3);
    const watch = orderWatch(evs);
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => watch.see(e));
    await t.publish(evs);
    await until(() => watch.complete() || watch.inversions.length > 0);
    await sub.close();
    await nc2.close();
    await reading;
    expect(took[0]).toBe(1);
    expect(watch.inversions).toEqual([]);
    expect(watch.complete()).toBe(true);
    expect(t.stats().resyncs).toBeGreaterThanOrEqual(1);
    await t.close();
  }, 90_000);

  it('with orderedDelivery false the subscriber does not re-create the consumer (deliveries held elsewhere come after ack_wait)', async () => {
    const { t, stream, prefix } = fresh({ orderedDelivery: false });
    await durable(stream, prefix, 'g');
    const evs = events(20, 4);
    await t.publish(evs);
    const nc2 = await connect({ servers: NATS_URL });
    for await (const m of await (await nc2.jetstream().consumers.get(stream, 'g')).fetch({ max_messages: 2, expires: 5_000 })) void m;
    await nc2.close();
    const seen = new Set<string>();
    const sub = await t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async (e) => void seen.add(e.id));
    await until(() => seen.size >= 18);
    await sub.close();
    expect([...seen].sort()).toEqual(evs.slice(2).map((e) => e.id).sort());
    expect(t.stats().resyncs).toBe(0);
    await t.close();
  }, 90_000);

  it('validates orderedDelivery', () => {
    expect(() => new NatsJetStreamTransport({ connection: nc, orderedDelivery: 'yes' as never })).toThrow(OutboxError);
    const err = (() => {
      try {
        return new NatsJetStreamTransport({ connection: nc, orderedDelivery: 1 as never });
      } catch (e) {
        return e;
      }
    })();
    expect(OutboxError.is(err, 'OUTBOX_INVALID_ARGUMENT')).toBe(true);
  });
});
