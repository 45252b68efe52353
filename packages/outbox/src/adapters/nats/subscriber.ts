import { OutboxError } from '../../errors.js';
import { validateEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { DeliveryHandler } from '../../transport/types.js';
import { backoffDelay, sleep } from '../../relay/backoff.js';
import type { ConsumerMessagesLike, JsMsgLike } from './driver.js';
import { Fifo } from './fifo.js';
import { deliverySequence } from './sequence.js';

const TD = new TextDecoder();

/** `decodeEvent` with one shared decoder. */
function decode(data: Uint8Array): OutboxEvent {
  let v: unknown;
  try {
    v = JSON.parse(TD.decode(data));
  } catch (err) {
    throw new OutboxError('OUTBOX_INVALID_EVENT', 'event is not valid JSON', { cause: err });
  }
  return validateEvent(v);
}

/** Counters of one {@link PullSubscriber}. @internal */
export interface PullSubscriberStats {
  inFlight: number;
  queued: number;
  delivered: number;
  acked: number;
  naked: number;
  terminated: number;
  /** Times the durable consumer was re-created after a lost delivery. */
  resyncs: number;
  /** Times the consume() ended by itself (e.g. the durable consumer was deleted) and the consumer was opened again. */
  reopens: number;
  /** Messages dropped unstarted (and unacknowledged) when the subscriber paused. */
  dropped: number;
}

/** Settings of one {@link PullSubscriber}. @internal */
export interface PullSubscriberOptions {
  /** Most handlers running at once. */
  maxInFlight: number;
  /** Delay before the broker redelivers an event whose handler rejected. */
  nakDelayMs: number;
  /**
   * Delay of the naks sent on close() for events never started. 0 (what the transport uses) puts them at the head of
   * the consumer's redelivery queue, ahead of newer messages, for the next pull of any subscriber; measured on NATS
   * 2.9, the server still routes the first of them into the closed subscriber's pending pull (it comes back after
   * ack_wait). A delay as long as the pull's lifetime avoids that but lets newer messages overtake all of them.
   */
  closeNakDelayMs: number;
  onError: (err: unknown) => void;
  /** Waits until the acks sent so far reached the server (the connection's `flush`), when available. */
  flush: (() => Promise<void>) | undefined;
  /** Starts a `consume()` of the durable consumer that hands every message to `callback`. */
  open: (callback: (m: JsMsgLike) => void) => Promise<ConsumerMessagesLike>;
  /**
   * Keeps order per aggregate after a lost delivery (see {@link PullSubscriber}): re-creates the durable consumer
   * from its ack floor and resolves to the consumer sequence its first delivery will carry. Undefined: sequences are
   * not checked and a lost delivery comes back after `ack_wait`, behind later messages.
   */
  resync?: (() => Promise<number>) | undefined;
  /**
   * Makes sure the durable consumer exists again after a `consume()` ended by itself while pulling (e.g. the consumer
   * was deleted) and resolves to the consumer sequence its next delivery will carry. With `resync`, it must re-create
   * the consumer from its ack floor as `resync` does. Undefined: the end is only reported to `onError`.
   */
  reopen?: (() => Promise<number>) | undefined;
}

/**
 * Hands the messages of a pull consumer's `consume()` (callback mode) to a {@link DeliveryHandler}.
 *
 * Messages are started in arrival order, at most `maxInFlight` at once; the others wait in a local FIFO, which the
 * consumer's `max_ack_pending` bounds (the server stops delivering once that many are unacknowledged). Every message
 * that arrives in one socket read is started synchronously, so a grouping inbox sees them as one group. A message is
 * acked (plain `+ACK`, not double-acked: a lost ack only causes a redelivery, which the inbox absorbs) after its
 * handler resolved, nak'ed with a delay when it rejected, and terminated when it is not a valid event. On close,
 * messages never started are nak'ed with `closeNakDelayMs`.
 *
 * With `resync`, every delivery's consumer sequence must be the one after the previous delivery's: the server
 * numbers the deliveries of a consumer 1, 2, 3…, so when this subscriber is the consumer's only reader, a gap (or a
 * step back, after a server restart lost consumer state) means a delivery went somewhere else and is lost until
 * `ack_wait`. The message that shows the gap and everything after it are then dropped unstarted; the subscriber stops
 * pulling, lets the messages before the gap run and be acked, flushes, calls `resync` (which re-creates the consumer
 * from its ack floor, so the lost delivery and everything after it come again in stream order) and pulls again.
 * A failed `resync` is reported to `onError` and retried with backoff until it succeeds or `close()` is called.
 *
 * When the running `consume()` ends by itself while the subscriber pulls (not paused, not closing; e.g. the durable
 * consumer was deleted and nats.js gave up on it), the end is reported to `onError` and, with `reopen`, the subscriber
 * does the same as after a lost delivery with `reopen` instead of `resync` (counted in `reopens`), so that it never
 * stalls with a live lease and no consume().
 *
 * @example
 * ```ts
 * const s = new PullSubscriber(handler, {
 *   maxInFlight: 64, nakDelayMs: 1000, closeNakDelayMs: 0, onError, flush: () => nc.flush(),
 *   open: (callback) => consumer.consume({ max_messages: 256, expires: 10_000, idle_heartbeat: 5_000, callback }),
 * });
 * await s.start(1);
 * await s.close();
 * ```
 * @internal
 */
export class PullSubscriber {
  readonly #handler: DeliveryHandler;
  readonly #o: PullSubscriberOptions;
  readonly #queue = new Fifo<JsMsgLike>();
  readonly #abort = new AbortController();
  #messages: ConsumerMessagesLike | undefined;
  /** Bumped when the running consume() is abandoned: its messages are dropped from then on. */
  #gen = 0;
  /** The consumer sequence the next delivery must carry (with `resync`). */
  #next = 0;
  #inFlight = 0;
  #counts = { delivered: 0, acked: 0, naked: 0, terminated: 0, resyncs: 0, reopens: 0, dropped: 0 };
  #stopping = false;
  /** Paused by {@link PullSubscriber.pause} (not pulling) until the next `start`. */
  #paused = true;
  #idle: (() => void)[] = [];
  #resyncing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(handler: DeliveryHandler, options: PullSubscriberOptions) {
    this.#handler = handler;
    this.#o = options;
  }

  /**
   * Starts pulling.
   *
   * @param firstSeq - The consumer sequence of the next delivery (`delivered.consumer_seq + 1`); checked only with `resync`.
   */
  async start(firstSeq: number): Promise<void> {
    if (this.#stopping) return;
    this.#paused = false;
    this.#next = firstSeq;
    await this.#open();
  }

  /**
   * Waits until the handlers started before a {@link PullSubscriber.pause} finished and a re-creation of the consumer
   * under way ended, so that a following `start` does not hand over an event beside an earlier one still running.
   */
  async settled(): Promise<void> {
    await this.#whenIdle();
    await this.#resyncing;
  }

  /**
   * Stops pulling at once (the subscriber lost its lease): messages received and not started are dropped, neither
   * acked nor nak'ed (whoever reads the consumer next re-creates it from its ack floor), and so are those still
   * arriving; running handlers finish and are acked. `start` pulls again.
   */
  pause(): void {
    if (this.#paused || this.#stopping) return;
    this.#paused = true;
    this.#gen++;
    this.#counts.dropped += this.#queue.length;
    while (this.#queue.shift() !== undefined);
    const messages = this.#messages;
    this.#messages = undefined;
    void messages?.close().catch(this.#o.onError);
  }

  /** Opens a consume() bound to the current generation; its unexpected end is reported to `onError` and reopened. */
  async #open(): Promise<void> {
    const gen = this.#gen;
    const messages = await this.#o.open((m) => this.#onMessage(m, gen));
    if (this.#stopping || this.#paused || gen !== this.#gen) {
      await messages.close().catch(this.#o.onError);
      return;
    }
    this.#messages = messages;
    const ended = (err: unknown): void => {
      if (this.#stopping || this.#paused || gen !== this.#gen) return; // closed by this subscriber
      const why = err instanceof Error ? err.message : 'ended';
      this.#o.onError(new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `JetStream consumer stopped: ${why}`, { cause: err, retryable: true }));
      // an end without an error is the connection closing (nats.js stops every consume() then): nothing to reopen
      if (err instanceof Error && this.#o.reopen !== undefined) this.#recreate('reopen');
    };
    void messages.closed().then(ended, ended);
  }

  #onMessage(m: JsMsgLike, gen: number): void {
    this.#counts.delivered++;
    if (gen !== this.#gen) return; // from an abandoned consume(): comes again from the re-created consumer
    if (this.#stopping) {
      this.#reply(() => m.nak(this.#o.closeNakDelayMs)); // never handed to a handler: redelivered to a live subscriber
      this.#counts.naked++;
      return;
    }
    if (this.#o.resync !== undefined) {
      // -1 (not an ack subject): not checked
      const seq = m.reply !== undefined ? deliverySequence(m.reply) : (m.info.deliverySequence ?? -1);
      if (seq >= 0) {
        if (seq !== this.#next) {
          this.#lost();
          return;
        }
        this.#next++;
      }
    }
    if (this.#inFlight < this.#o.maxInFlight && this.#queue.length === 0) this.#start(m);
    else this.#queue.push(m);
  }

  /** Events being handled now, events waiting for a free slot, and what happened to the messages received. */
  stats(): PullSubscriberStats {
    return { inFlight: this.#inFlight, queued: this.#queue.length, ...this.#counts };
  }

  #start(m: JsMsgLike): void {
    let event: OutboxEvent;
    try {
      event = decode(m.data);
    } catch (err) {
      this.#o.onError(err);
      // no reason text: servers before 2.10 do not parse `+TERM <reason>`
      this.#reply(() => (m.term !== undefined ? m.term() : m.ack()));
      this.#counts.terminated++;
      return;
    }
    this.#inFlight++;
    let p: Promise<void>;
    try {
      // lazily: parsing the delivery info from the reply subject costs more than most handlers look at it
      p = this.#handler(event, {
        get deliveryCount() {
          return m.info.redeliveryCount;
        },
      });
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => {
        this.#reply(() => m.ack());
        this.#counts.acked++;
        this.#done();
      },
      (err: unknown) => {
        this.#o.onError(err);
        this.#reply(() => m.nak(this.#o.nakDelayMs));
        this.#counts.naked++;
        this.#done();
      },
    );
  }

  /**
   * Sends an ack/nak/term. nats.js throws when the connection is closed: the broker then redelivers after ack_wait,
   * so the failure is only reported, and never stops the bookkeeping of in-flight handlers.
   */
  #reply(send: () => void): void {
    try {
      send();
    } catch (err) {
      this.#o.onError(err);
    }
  }

  #done(): void {
    this.#inFlight--;
    while (this.#inFlight < this.#o.maxInFlight && this.#queue.length > 0 && !this.#stopping) this.#start(this.#queue.shift()!);
    if (this.#inFlight === 0 && (this.#queue.length === 0 || this.#stopping)) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** Resolves when no handler runs and (unless stopping) nothing waits for a slot. */
  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0 && (this.#queue.length === 0 || this.#stopping)) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** A delivery was lost: abandon the running consume() and re-create the consumer once the earlier messages are acked. */
  #lost(): void {
    this.#recreate('resync');
  }

  /**
   * Abandons the running consume() and, once the messages started before are acked, re-creates the consumer with
   * `resync` (a lost delivery) or `reopen` (the consume() ended), retried with backoff; then pulls again.
   */
  #recreate(why: 'resync' | 'reopen'): void {
    this.#gen++;
    this.#resyncing ??= (async () => {
      for (let attempt = 1; !this.#stopping && !this.#paused; attempt++) {
        const gen = this.#gen;
        await this.#messages?.close().catch(this.#o.onError);
        this.#messages = undefined;
        await this.#whenIdle(); // the messages queued before the gap are in order: they run and are acked first
        await this.#o.flush?.().catch(this.#o.onError);
        if (this.#stopping || this.#paused) return;
        try {
          this.#next = await (why === 'resync' ? this.#o.resync!() : this.#o.reopen!());
          this.#counts[why === 'resync' ? 'resyncs' : 'reopens']++;
          await this.#open();
        } catch (err) {
          const after = why === 'resync' ? 'a lost delivery' : 'its consume() ended';
          this.#o.onError(new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `cannot re-create the JetStream consumer after ${after}: ${(err as Error).message}`, { cause: err, retryable: true }));
          await sleep(backoffDelay(attempt, 100, 2_000), this.#abort.signal);
          continue;
        }
        if (gen === this.#gen) return; // else a delivery was lost again while opening: once more
        attempt = 0;
      }
    })().finally(() => (this.#resyncing = undefined));
  }

  /** Stops fetching, naks what was not started, waits for running handlers and flushes their acks. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true;
      this.#abort.abort();
      await this.#messages?.close().catch(this.#o.onError);
      for (let m = this.#queue.shift(); m !== undefined; m = this.#queue.shift()) {
        const msg = m;
        this.#reply(() => msg.nak(this.#o.closeNakDelayMs));
        this.#counts.naked++;
      }
      await this.#whenIdle();
      await this.#resyncing;
      await this.#o.flush?.().catch(this.#o.onError);
    })();
    return this.#closing;
  }
}
