import { OutboxError } from '../../errors.js';
import { validateEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { DeliveryHandler } from '../../transport/types.js';
import type { ConsumerMessagesLike, JsMsgLike } from './driver.js';
import { Fifo } from './fifo.js';

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
 * @example
 * ```ts
 * const s = new PullSubscriber(handler, { maxInFlight: 64, nakDelayMs: 1000, closeNakDelayMs: 0, onError, flush: () => nc.flush() });
 * s.attach(await consumer.consume({ max_messages: 256, expires: 10_000, idle_heartbeat: 5_000, callback: s.onMessage }));
 * await s.close();
 * ```
 * @internal
 */
export class PullSubscriber {
  readonly #handler: DeliveryHandler;
  readonly #o: PullSubscriberOptions;
  readonly #queue = new Fifo<JsMsgLike>();
  #messages: ConsumerMessagesLike | undefined;
  #inFlight = 0;
  #counts = { delivered: 0, acked: 0, naked: 0, terminated: 0 };
  #stopping = false;
  #idle: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(handler: DeliveryHandler, options: PullSubscriberOptions) {
    this.#handler = handler;
    this.#o = options;
  }

  /** The consume() callback. */
  readonly onMessage = (m: JsMsgLike): void => {
    this.#counts.delivered++;
    if (this.#stopping) {
      this.#reply(() => m.nak(this.#o.closeNakDelayMs)); // never handed to a handler: redelivered to a live subscriber
      this.#counts.naked++;
      return;
    }
    if (this.#inFlight < this.#o.maxInFlight && this.#queue.length === 0) this.#start(m);
    else this.#queue.push(m);
  };

  /** Binds the running consume(); its unexpected end is reported to `onError`. */
  attach(messages: ConsumerMessagesLike): void {
    this.#messages = messages;
    void messages.closed().then(
      (err) => {
        if (err instanceof Error && !this.#stopping) this.#o.onError(new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `JetStream consumer stopped: ${err.message}`, { cause: err, retryable: true }));
      },
      (err: unknown) => this.#o.onError(err),
    );
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
    if (this.#inFlight === 0) this.#idle?.();
  }

  /** Stops fetching, naks what was not started, waits for running handlers and flushes their acks. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true;
      await this.#messages?.close().catch(this.#o.onError);
      for (let m = this.#queue.shift(); m !== undefined; m = this.#queue.shift()) {
        const msg = m;
        this.#reply(() => msg.nak(this.#o.closeNakDelayMs));
        this.#counts.naked++;
      }
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      await this.#o.flush?.().catch(this.#o.onError);
    })();
    return this.#closing;
  }
}
