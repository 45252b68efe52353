/**
 * The NATS subscriber's order guard against models: the ack-subject parser against nats.js's own, and the
 * PullSubscriber against a simulated JetStream durable consumer that loses random deliveries.
 */
import fc from 'fast-check';
// nats.js's own parser of ack subjects (not exported from the package root)
import { parseInfo } from 'nats/lib/jetstream/jsmsg.js';
import { describe, expect, it } from 'vitest';
import { createEvent, encodeEvent, type OutboxEvent } from '@dataplane/outbox';
import type { ConsumerMessagesLike, JsMsgLike } from '../src/adapters/nats/driver.js';
import { deliverySequence } from '../src/adapters/nats/sequence.js';
import { PullSubscriber } from '../src/adapters/nats/subscriber.js';

const RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const num = fc.nat({ max: Number.MAX_SAFE_INTEGER });

describe('deliverySequence (ack subject parser)', () => {
  it('agrees with nats.js on both ack subject shapes', () => {
    fc.assert(
      fc.property(token, token, token, token, num, num, num, num, num, fc.boolean(), fc.boolean(), (domain, hash, stream, consumer, count, sseq, dseq, ts, pending, old, random) => {
        const tail = `${stream}.${consumer}.${count}.${sseq}.${dseq}.${ts}.${pending}`;
        const reply = old ? `$JS.ACK.${tail}` : `$JS.ACK.${domain}.${hash}.${tail}${random ? '.rnd' : ''}`;
        expect(deliverySequence(reply)).toBe((parseInfo(reply) as { deliverySequence: number }).deliverySequence);
        expect(deliverySequence(reply)).toBe(dseq);
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('returns -1 for anything else', () => {
    for (const s of ['', '_INBOX.abc', '$JS.ACK.S.C.1.2', '$JS.ACK.S.C.1.2.x.4.5', '$JS.ACK.a.b.c.d.e.f.g.h.i.j', '$JS.ACK.S.C.1.2..4.5']) expect(deliverySequence(s)).toBe(-1);
  });
});

/** A JetStream stream and one durable consumer, delivering on command and losing deliveries on command. */
class SimConsumer {
  readonly acked = new Set<number>();
  #gen = 0;
  #next = 1; // next stream sequence to deliver
  #dseq = 0;
  #callback: ((m: JsMsgLike) => void) | undefined;
  resyncs = 0;
  readonly events: readonly OutboxEvent[];

  constructor(events: readonly OutboxEvent[]) {
    this.events = events;
  }

  /** Everything up to here is acked. */
  floor(): number {
    let f = 0;
    while (this.acked.has(f + 1)) f++;
    return f;
  }

  open = (callback: (m: JsMsgLike) => void): Promise<ConsumerMessagesLike> => {
    this.#callback = callback;
    const gen = this.#gen;
    return Promise.resolve({
      close: () => {
        if (this.#gen === gen && this.#callback === callback) this.#callback = undefined;
        return Promise.resolve();
      },
      closed: () => new Promise<void>(() => {}),
    });
  };

  /** Re-creates the consumer from the ack floor (what restartDurable does). */
  resync = (): Promise<number> => {
    this.#gen++;
    this.#callback = undefined;
    this.#next = this.floor() + 1;
    this.#dseq = 0;
    this.resyncs++;
    return Promise.resolve(1);
  };

  /**
   * Delivers the next message, or loses it (consumed by the server, never reaching the subscriber). Once all were
   * delivered, the oldest unacknowledged one comes again (its ack_wait expired).
   */
  step(lose: boolean): void {
    const cb = this.#callback;
    if (cb === undefined) return;
    let sseq: number;
    if (this.#next <= this.events.length) sseq = this.#next++;
    else if (this.floor() < this.events.length) sseq = this.floor() + 1;
    else return;
    const dseq = ++this.#dseq;
    if (lose) return;
    const gen = this.#gen;
    cb({
      data: new TextEncoder().encode(encodeEvent(this.events[sseq - 1]!)),
      reply: `$JS.ACK.SIM.g.1.${sseq}.${dseq}.0.0`,
      info: { redeliveryCount: 1 },
      ack: () => {
        if (gen === this.#gen) this.acked.add(sseq); // an ack for a deleted consumer goes nowhere
      },
      nak: () => {},
    });
  }
}

const ticks = async (k = 5): Promise<void> => {
  for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
};

describe('PullSubscriber order guard', () => {
  it('never hands over an event of an aggregate before the earlier ones, whatever deliveries are lost', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom('deliver', 'deliver', 'deliver', 'lose', 'finish', 'finish', 'tick'), { minLength: 1, maxLength: 120 }),
        async (count, aggregates, maxInFlight, steps) => {
          const events = Array.from({ length: count }, (_, i) => createEvent({ aggregateType: 't', aggregateId: `a${i % aggregates}`, type: 'E', payload: i }));
          const sim = new SimConsumer(events);
          const index = new Map(events.map((e, i) => [e.id, i]));
          const running: (() => void)[] = [];
          const handedOver = new Set<number>();
          const inversions: string[] = [];
          const errors: unknown[] = [];
          const s = new PullSubscriber(
            (e) => {
              const i = index.get(e.id)!;
              for (let j = i - aggregates; j >= 0; j -= aggregates) if (!handedOver.has(j)) inversions.push(`${i} before ${j}`);
              handedOver.add(i);
              return new Promise<void>((resolve) => running.push(resolve));
            },
            { maxInFlight, nakDelayMs: 0, closeNakDelayMs: 0, onError: (err) => errors.push(err), flush: () => Promise.resolve(), open: sim.open, resync: sim.resync },
          );
          await s.start(1);
          for (const step of steps) {
            if (step === 'deliver' || step === 'lose') sim.step(step === 'lose');
            else if (step === 'finish') running.shift()?.();
            await ticks(1);
          }
          // then no more losses: everything gets handed over
          for (let guard = 0; guard < 2_000 && sim.floor() < count; guard++) {
            sim.step(false);
            running.shift()?.();
            await ticks(1);
          }
          let closed = false;
          const closing = s.close().then(() => (closed = true));
          for (let guard = 0; guard < 100 && !closed; guard++) {
            for (const resolve of running.splice(0)) resolve();
            await ticks(1);
          }
          await closing;
          expect(inversions).toEqual([]);
          expect(errors).toEqual([]);
          expect(sim.floor()).toBe(count);
          expect(handedOver.size).toBe(count);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a lost delivery makes it drop the rest, wait for the earlier handlers, re-create the consumer, then start over from the ack floor', async () => {
    const events = Array.from({ length: 6 }, (_, i) => createEvent({ aggregateType: 't', aggregateId: 'a', type: 'E', payload: i }));
    const sim = new SimConsumer(events);
    const seen: number[] = [];
    const running: (() => void)[] = [];
    const s = new PullSubscriber(
      (e) => {
        seen.push(e.payload as number);
        return new Promise<void>((resolve) => running.push(resolve));
      },
      { maxInFlight: 8, nakDelayMs: 0, closeNakDelayMs: 0, onError: () => {}, flush: () => Promise.resolve(), open: sim.open, resync: sim.resync },
    );
    await s.start(1);
    sim.step(false); // event 0 (running)
    sim.step(true); // event 1 lost
    sim.step(false); // event 2 shows the gap: dropped
    await ticks();
    expect(seen).toEqual([0]);
    expect(sim.resyncs).toBe(0); // waits for event 0's handler first
    running.shift()!();
    await ticks();
    expect(sim.resyncs).toBe(1);
    expect(s.stats()).toMatchObject({ resyncs: 1, acked: 1, inFlight: 0, queued: 0 });
    for (let i = 0; i < 5; i++) sim.step(false);
    await ticks();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    while (running.length > 0) running.shift()!();
    await s.close();
    expect(sim.floor()).toBe(6);
  });

  it('without resync it hands over whatever arrives', async () => {
    const events = Array.from({ length: 3 }, (_, i) => createEvent({ aggregateType: 't', aggregateId: 'a', type: 'E', payload: i }));
    const sim = new SimConsumer(events);
    const seen: number[] = [];
    const s = new PullSubscriber(
      (e) => {
        seen.push(e.payload as number);
        return Promise.resolve();
      },
      { maxInFlight: 4, nakDelayMs: 0, closeNakDelayMs: 0, onError: () => {}, flush: undefined, open: sim.open },
    );
    await s.start(1);
    sim.step(true);
    sim.step(false);
    sim.step(false);
    await ticks();
    expect(seen).toEqual([1, 2]);
    await s.close();
  });

  it('close() during a failing re-creation returns and opens nothing', async () => {
    const events = Array.from({ length: 3 }, (_, i) => createEvent({ aggregateType: 't', aggregateId: 'a', type: 'E', payload: i }));
    const sim = new SimConsumer(events);
    let opens = 0;
    let attempts = 0;
    const errors: unknown[] = [];
    const s = new PullSubscriber(() => Promise.resolve(), {
      maxInFlight: 4, nakDelayMs: 0, closeNakDelayMs: 0, onError: (err) => errors.push(err), flush: undefined,
      open: (cb) => {
        opens++;
        return sim.open(cb);
      },
      resync: () => {
        attempts++;
        return Promise.reject(new Error('server down'));
      },
    });
    await s.start(1);
    sim.step(true);
    sim.step(false);
    await ticks();
    expect(attempts).toBe(1);
    await s.close();
    expect(opens).toBe(1);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect((errors[0] as { code?: string }).code).toBe('OUTBOX_TRANSPORT_UNAVAILABLE');
  });
});
