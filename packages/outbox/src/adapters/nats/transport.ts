import { OutboxError } from '../../errors.js';
import { decodeEvent, encodeEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { DeliveryHandler, SubscribeOptions, Subscription, Transport } from '../../transport/types.js';

/* Structural views of the nats.js 2.x API used here (this module does not import nats). */
interface JsMsg {
  data: Uint8Array;
  info: { redeliveryCount: number };
  ack(): void;
  nak(millis?: number): void;
}
interface ConsumerMessages extends AsyncIterable<JsMsg> {
  close(): Promise<void | Error>;
}
interface JetStreamClient {
  publish(subject: string, data: Uint8Array, options?: { msgID?: string }): Promise<{ duplicate: boolean; seq: number }>;
  consumers: { get(stream: string, durable: string): Promise<{ consume(opts?: { max_messages?: number }): Promise<ConsumerMessages> }> };
}
interface JetStreamManager {
  streams: { info(name: string): Promise<unknown>; add(cfg: Record<string, unknown>): Promise<unknown> };
  consumers: { add(stream: string, cfg: Record<string, unknown>): Promise<unknown> };
}
/** The part of a nats.js `NatsConnection` used here. */
export interface NatsConnectionLike {
  jetstream(): unknown;
  jetstreamManager(): Promise<unknown>;
}

/** Options of {@link NatsJetStreamTransport}. */
export interface NatsJetStreamTransportOptions {
  /** A connected nats.js `NatsConnection`. */
  connection: NatsConnectionLike;
  /** Stream name (created if missing, capturing `<subjectPrefix>.>`). @defaultValue 'DATAPLANE_OUTBOX' */
  stream?: string | undefined;
  /** Subjects are `<subjectPrefix>.<aggregateType>`. @defaultValue 'outbox' */
  subjectPrefix?: string | undefined;
  /** Broker-side dedup window for Nats-Msg-Id when the stream is created. @defaultValue 120_000 */
  duplicateWindowMs?: number | undefined;
  /** Redelivery after this long without an ack. @defaultValue 30_000 */
  ackWaitMs?: number | undefined;
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * NATS JetStream transport: one subject per aggregate type, `Nats-Msg-Id` = event id (the broker drops a republish
 * inside the duplicate window), `publish` resolves when every PubAck arrived. `subscribe` uses a durable pull
 * consumer per group with explicit acks (an event is acked after the handler resolved, nak'ed when it rejected).
 *
 * @example
 * ```ts
 * import { connect } from 'nats';
 * import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const transport = new NatsJetStreamTransport({ connection: nc });
 * await transport.close();
 * await nc.close();
 * ```
 * @since 0.1.0
 */
export class NatsJetStreamTransport implements Transport {
  readonly #o: NatsJetStreamTransportOptions;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #subs = new Set<Subscription>();
  #ready: Promise<JetStreamManager> | undefined;
  #closed = false;

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad stream name or prefix. */
  constructor(options: NatsJetStreamTransportOptions) {
    this.#o = options;
    this.#stream = options.stream ?? 'DATAPLANE_OUTBOX';
    this.#prefix = options.subjectPrefix ?? 'outbox';
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(this.#stream) || !/^[A-Za-z0-9_.-]{1,64}$/.test(this.#prefix)) {
      throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'bad stream name or subject prefix');
    }
  }

  /** The subject of an aggregate type. */
  subjectOf(aggregateType: string): string {
    return `${this.#prefix}.${aggregateType}`;
  }

  #ensure(): Promise<JetStreamManager> {
    this.#ready ??= (async () => {
      const jsm = (await this.#o.connection.jetstreamManager()) as JetStreamManager;
      try {
        await jsm.streams.info(this.#stream);
      } catch {
        await jsm.streams.add({
          name: this.#stream,
          subjects: [`${this.#prefix}.>`],
          duplicate_window: (this.#o.duplicateWindowMs ?? 120_000) * 1_000_000,
        });
      }
      return jsm;
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', 'cannot set up the JetStream stream', { cause: err, retryable: true });
    });
    return this.#ready;
  }

  /** {@inheritDoc Transport.publish} */
  async publish(events: readonly OutboxEvent[]): Promise<void> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    await this.#ensure();
    const js = this.#o.connection.jetstream() as JetStreamClient;
    const enc = new TextEncoder();
    try {
      // sent in order on one connection; all PubAcks awaited
      await Promise.all(events.map((e) => js.publish(this.subjectOf(e.aggregateType), enc.encode(encodeEvent(e)), { msgID: e.id })));
    } catch (err) {
      throw new OutboxError('OUTBOX_PUBLISH_FAILED', `JetStream publish failed: ${(err as Error).message}`, { cause: err, retryable: true });
    }
  }

  /** {@inheritDoc Transport.subscribe} */
  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.group)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'group must match [A-Za-z0-9_-]{1,64}');
    const jsm = await this.#ensure();
    const maxInFlight = options.maxInFlight ?? 64;
    await jsm.consumers.add(this.#stream, {
      durable_name: options.group,
      ack_policy: 'explicit',
      ack_wait: (this.#o.ackWaitMs ?? 30_000) * 1_000_000,
      // filter_subjects needs NATS server >= 2.10; one type works everywhere
      ...(options.aggregateTypes.length === 1
        ? { filter_subject: this.subjectOf(options.aggregateTypes[0]!) }
        : { filter_subjects: options.aggregateTypes.map((t) => this.subjectOf(t)) }),
      max_ack_pending: Math.max(1000, maxInFlight * 4),
    });
    const js = this.#o.connection.jetstream() as JetStreamClient;
    const c = await js.consumers.get(this.#stream, options.group);
    const messages = await c.consume({ max_messages: Math.max(16, maxInFlight) });
    const inflight = new Set<Promise<void>>();
    const onError = this.#o.onError ?? (() => {});
    let stopping = false;
    const loop = (async () => {
      for await (const m of messages) {
        let event: OutboxEvent;
        try {
          event = decodeEvent(m.data);
        } catch (err) {
          onError(err);
          m.ack();
          continue;
        }
        const p = handler(event, { deliveryCount: m.info.redeliveryCount }).then(
          () => m.ack(),
          (err: unknown) => {
            onError(err);
            m.nak(1000);
          },
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        while (inflight.size >= maxInFlight) await Promise.race(inflight);
        if (stopping) break;
      }
    })();
    const stop = async (): Promise<void> => {
      stopping = true;
      await messages.close();
      await loop.catch(onError);
      await Promise.allSettled([...inflight]);
      this.#subs.delete(sub);
    };
    const sub: Subscription = { close: stop };
    options.signal?.addEventListener('abort', () => void stop(), { once: true });
    this.#subs.add(sub);
    return sub;
  }

  /** Closes all subscriptions (not the connection passed in). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
  }
}
