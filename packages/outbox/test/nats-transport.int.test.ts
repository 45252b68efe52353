/**
 * NatsJetStreamTransport against the machine's NATS server (JetStream): pipelined and per-request publish, PubAck
 * errors, Nats-Msg-Id dedup, stored order, the pull subscriber's concurrency bound, order, nak/redelivery, poison
 * messages and close().
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxError, createEvent, type OutboxEvent } from '@dataplane/outbox';
import { NatsJetStreamTransport, type NatsJetStreamTransportOptions } from '@dataplane/outbox/nats';

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

function fresh(extra: Partial<NatsJetStreamTransportOptions> = {}): { t: NatsJetStreamTransport; stream: string; prefix: string } {
  const k = `${run}_${n++}`;
  const stream = `DPNT_${k}`;
  const prefix = `dpnt${k}`;
  streams.push(stream);
  return { t: new NatsJetStreamTransport({ connection: nc, stream, subjectPrefix: prefix, ...extra }), stream, prefix };
}

function events(count: number, aggregates = 10, type = 'acct'): OutboxEvent[] {
  return Array.from({ length: count }, (_, i) => createEvent({ aggregateType: type, aggregateId: `a${i % aggregates}`, type: 'Step', payload: { i } }));
}

async function until(cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nothing left to deliver and nothing awaiting an ack. */
async function settled(stream: string, durable: string): Promise<boolean> {
  const ci = await (await nc.jetstreamManager()).consumers.info(stream, durable);
  return ci.num_ack_pending === 0 && ci.num_pending === 0;
}

async function storedIds(stream: string): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    ids.push((JSON.parse(new TextDecoder().decode(m.data)) as { id: string }).id);
  }
  return ids;
}

describe('NatsJetStreamTransport publish', () => {
  for (const pipelinedPublish of [true, false]) {
    it(`stores every event once, each aggregate in publish order, and drops republished ids (pipelinedPublish ${pipelinedPublish})`, async () => {
      const { t, stream } = fresh({ pipelinedPublish });
      const evs = events(600, 50);
      await t.publish(evs.slice(0, 300));
      await t.publish(evs.slice(0, 450)); // 300 republished: the stream drops them by Nats-Msg-Id
      await t.publish(evs.slice(450));
      const stored = await storedIds(stream);
      expect([...stored].sort()).toEqual(evs.map((e) => e.id).sort());
      const byId = new Map(evs.map((e) => [e.id, e]));
      for (let a = 0; a < 50; a++) {
        const agg = `a${a}`;
        expect(stored.filter((id) => byId.get(id)!.aggregateId === agg)).toEqual(evs.filter((e) => e.aggregateId === agg).map((e) => e.id));
      }
      // 6, 9 and 3 events per aggregate in the three calls: one round each
      expect(t.stats()).toMatchObject({ publishBatches: 3, published: 900, publishRounds: 18, publishFailures: 0 });
      await t.close();
    });
  }

  it('a batch of one aggregate, and of a few hot aggregates among many, is stored in batch order per aggregate', async () => {
    const { t, stream } = fresh();
    const one = events(120, 1);
    await t.publish(one);
    expect(await storedIds(stream)).toEqual(one.map((e) => e.id));
    const mixed = [...events(200, 100), ...events(60, 3, 'acct')];
    await t.publish(mixed);
    const stored = (await storedIds(stream)).slice(one.length);
    expect([...stored].sort()).toEqual(mixed.map((e) => e.id).sort());
    for (const agg of new Set(mixed.map((e) => e.aggregateId))) {
      const ids = mixed.filter((e) => e.aggregateId === agg).map((e) => e.id);
      expect(stored.filter((id) => ids.includes(id))).toEqual(ids);
    }
    expect(t.stats()).toMatchObject({ publishBatches: 2, publishRounds: 120 + 22, publishFailures: 0 });
    await t.close();
  });

  it('a refused event in the middle of a chain keeps the rest of its aggregate out, other aggregates go on', async () => {
    const { t, stream, prefix } = fresh();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 2048 });
    const a = events(6, 1);
    const big = createEvent({ aggregateType: 'acct', aggregateId: 'a0', type: 'Big', payload: { pad: 'x'.repeat(4096) } });
    const after = events(4, 1);
    const others = Array.from({ length: 20 }, (_, i) => createEvent({ aggregateType: 'acct', aggregateId: `b${i}`, type: 'Small', payload: {} }));
    const err = await t.publish([...a, big, ...after, ...others]).catch((e: unknown) => e);
    expect(OutboxError.is(err, 'OUTBOX_PUBLISH_FAILED')).toBe(true);
    const stored = await storedIds(stream);
    for (const e of after) expect(stored).not.toContain(e.id);
    // the chain before the refused event went out in order
    expect(stored.filter((id) => a.some((e) => e.id === id))).toEqual(a.map((e) => e.id));
    await t.close();
  });

  it('without strictOrder a batch goes out whole, in order', async () => {
    const { t, stream } = fresh({ strictOrder: false });
    const evs = events(300, 7);
    await t.publish(evs);
    expect(await storedIds(stream)).toEqual(evs.map((e) => e.id));
    await t.close();
  });

  for (const strictOrder of [true, false]) {
    it(`a message the stream refuses ${strictOrder ? 'keeps' : 'does not keep'} the later events of its aggregate out (strictOrder ${strictOrder})`, async () => {
      const { t, stream, prefix } = fresh({ strictOrder });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 2048 });
      const big = createEvent({ aggregateType: 'acct', aggregateId: 'a1', type: 'Big', payload: { pad: 'x'.repeat(4096) } });
      const later = createEvent({ aggregateType: 'acct', aggregateId: 'a1', type: 'Small', payload: {} });
      const other = createEvent({ aggregateType: 'acct', aggregateId: 'a2', type: 'Small', payload: {} });
      const err = await t.publish([big, other, later]).catch((e: unknown) => e);
      expect(OutboxError.is(err, 'OUTBOX_PUBLISH_FAILED')).toBe(true);
      const stored = await storedIds(stream);
      expect(stored).toContain(other.id);
      // strict: a1's later event was never sent, so no retry can store it before `big`
      expect(stored.includes(later.id)).toBe(!strictOrder);
      await t.close();
    });
  }

  it('rejects retryably when the stream refuses a message (error PubAck)', async () => {
    const { t, stream, prefix } = fresh();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_msgs: 2, discard: 'new' as never });
    const err = await t.publish(events(5)).catch((e: unknown) => e);
    expect(OutboxError.is(err, 'OUTBOX_PUBLISH_FAILED')).toBe(true);
    expect((err as OutboxError).retryable).toBe(true);
    expect((await jsm.streams.info(stream)).state.messages).toBe(2);
    expect(t.stats()).toMatchObject({ publishBatches: 0, publishFailures: 1 });
    await t.close();
  });

  it('rejects when no stream captures the subject any more (no responders)', async () => {
    const { t, stream } = fresh();
    await t.publish(events(1));
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream);
    const err = await t.publish(events(3)).catch((e: unknown) => e);
    expect(OutboxError.is(err, 'OUTBOX_PUBLISH_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/no responders/);
    await t.close();
  });

  it('rejects an aborted publish and publishes nothing after close()', async () => {
    const { t } = fresh();
    const ac = new AbortController();
    ac.abort();
    expect(OutboxError.is(await t.publish(events(2), { signal: ac.signal }).catch((e: unknown) => e), 'OUTBOX_ABORTED')).toBe(true);
    await t.close();
    expect(OutboxError.is(await t.publish(events(2)).catch((e: unknown) => e), 'OUTBOX_CLOSED')).toBe(true);
  });

  it('validates numeric options', () => {
    expect(() => new NatsJetStreamTransport({ connection: nc, pullBatch: 0 })).toThrow(OutboxError);
    expect(() => new NatsJetStreamTransport({ connection: nc, publishTimeoutMs: 1.5 })).toThrow(OutboxError);
    expect(() => new NatsJetStreamTransport({ connection: nc, pullExpiresMs: 500 })).toThrow(OutboxError);
  });
});

describe('NatsJetStreamTransport subscribe', () => {
  it('hands events over in stream order, never more than maxInFlight at once, and acks each', async () => {
    const { t, stream } = fresh();
    const evs = events(500);
    await t.publish(evs);
    const seen: string[] = [];
    let running = 0;
    let most = 0;
    const sub = await t.subscribe({ group: 'g1', aggregateTypes: ['acct'], maxInFlight: 8 }, async (e) => {
      seen.push(e.id);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
    });
    await until(() => seen.length >= evs.length);
    await sub.close();
    expect(seen).toEqual(evs.map((e) => e.id));
    expect(most).toBe(8);
    await until(async () => settled(stream, 'g1')); // acks are processed by the server asynchronously
    expect(t.stats()).toMatchObject({ delivered: 500, acked: 500, naked: 0, terminated: 0, inFlight: 0, queued: 0 });
    await t.close();
  });

  it('redelivers an event whose handler rejected, with its delivery count', async () => {
    const { t } = fresh({ nakDelayMs: 10 });
    const [e] = events(1);
    await t.publish([e!]);
    const counts: number[] = [];
    const sub = await t.subscribe({ group: 'g2', aggregateTypes: ['acct'] }, async (_ev, d) => {
      counts.push(d.deliveryCount);
      if (counts.length === 1) throw new Error('first attempt fails');
    });
    await until(() => counts.length >= 2);
    await sub.close();
    expect(counts.slice(0, 2)).toEqual([1, 2]);
    await t.close();
  });

  it('terminates a message that is not an event and goes on with the next', async () => {
    const errors: unknown[] = [];
    const { t, stream, prefix } = fresh({ onError: (err) => errors.push(err) });
    await t.publish(events(1));
    const js = nc.jetstream();
    await js.publish(`${prefix}.acct`, new TextEncoder().encode('not json'));
    const [good] = events(1);
    await t.publish([good!]);
    const seen: string[] = [];
    const sub = await t.subscribe({ group: 'g3', aggregateTypes: ['acct'] }, async (e) => {
      seen.push(e.id);
    });
    await until(() => seen.includes(good!.id));
    await sub.close();
    expect(seen).toHaveLength(2);
    expect(errors.some((err) => OutboxError.is(err, 'OUTBOX_INVALID_EVENT'))).toBe(true);
    await until(async () => settled(stream, 'g3'));
    expect(t.stats()).toMatchObject({ acked: 2, terminated: 1 });
    await t.close();
  });

  it('close() finishes running handlers, acks them and returns the events it never started', async () => {
    // messages the server routes to the closed subscriber's still-open pull come back after ack_wait
    const { t, stream } = fresh({ ackWaitMs: 1_000, pullExpiresMs: 1_000 });
    const evs = events(50);
    await t.publish(evs);
    const finished: string[] = [];
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sub = await t.subscribe({ group: 'g4', aggregateTypes: ['acct'], maxInFlight: 2 }, async (e) => {
      started++;
      await gate;
      finished.push(e.id);
    });
    await until(() => started === 2);
    const closing = sub.close();
    release();
    await closing;
    expect(finished).toEqual(evs.slice(0, 2).map((e) => e.id));
    // the next subscriber of the group gets the rest, and not the two that were acked
    const rest: string[] = [];
    const sub2 = await t.subscribe({ group: 'g4', aggregateTypes: ['acct'] }, async (e) => {
      rest.push(e.id);
    });
    await until(() => new Set(rest).size >= 48);
    await until(async () => settled(stream, 'g4'));
    await sub2.close();
    // at least once: an event can come twice (nak'd into the closed subscriber's pull, then redelivered)
    expect(new Set(rest)).toEqual(new Set(evs.slice(2).map((e) => e.id)));
    await t.close();
  });

  it('close() still returns when the connection closed under a running handler', async () => {
    const nc2 = await connect({ servers: NATS_URL });
    const errors: unknown[] = [];
    const k = `${run}_${n++}`;
    streams.push(`DPNT_${k}`);
    const t = new NatsJetStreamTransport({ connection: nc2, stream: `DPNT_${k}`, subjectPrefix: `dpnt${k}`, onError: (err) => errors.push(err) });
    await t.publish(events(3));
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sub = await t.subscribe({ group: 'g6', aggregateTypes: ['acct'], maxInFlight: 1 }, async () => {
      started++;
      await gate;
    });
    await until(() => started === 1);
    await nc2.close();
    release();
    await sub.close();
    await t.close();
    // what could not reach the server (the final flush) was reported to onError, not thrown, and nothing hung
    expect(errors.some((e) => String(e).includes('CONNECTION_CLOSED'))).toBe(true);
  });

  it('filters by aggregate type', async () => {
    const { t } = fresh();
    await t.publish([...events(5, 5, 'order'), ...events(5, 5, 'user')]);
    const seen: string[] = [];
    const sub = await t.subscribe({ group: 'g5', aggregateTypes: ['user'] }, async (e) => {
      seen.push(e.aggregateType);
    });
    await until(() => seen.length >= 5);
    await sub.close();
    expect(seen).toEqual(['user', 'user', 'user', 'user', 'user']);
    await t.close();
  });
});
