import { OutboxError } from '../../errors.js';
import { encodeEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { DeliveryHandler, SubscribeOptions, Subscription, Transport } from '../../transport/types.js';
import type { CorePublisherConnection, PubMsg } from './publisher.js';
import { PubAckPipeline } from './publisher.js';
import { chainAfter, splitRounds } from './rounds.js';
import { addDurable, durableInfo, restartDurable } from './durable.js';
import { PullSubscriber } from './subscriber.js';
import { backoffDelay, sleep } from '../../relay/backoff.js';
import type { JetStreamClientLike, JetStreamManagerLike, KvLike, NatsConnectionLike } from './driver.js';
import { KvLeaseStore, LeaseKeeper, openLeaseBucket } from './lease.js';

const TE = new TextEncoder();

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
  /**
   * How long `publish` waits for the PubAcks of a batch before it rejects (retryably; the relay then republishes and
   * the stream drops the copies it already has by `Nats-Msg-Id`). @defaultValue 10_000
   */
  publishTimeoutMs?: number | undefined;
  /**
   * Publish every event of a batch at once as a core NATS publish with a reply subject, on one shared PubAck
   * subscription, and resolve when all PubAcks arrived (what the Go client's `PublishAsync` does). `false` uses
   * `js.publish` per event (one request each, still concurrent). Either way `publish` resolves only once the stream
   * acknowledged every event. Needs a connection with `publish` and `subscribe` (every nats.js 2.x connection); the
   * `Nats-Msg-Id` header is handed to nats.js 2.x's `publish` as a pre-encoded header block. @defaultValue true
   */
  pipelinedPublish?: boolean | undefined;
  /**
   * Publish an aggregate's next event of a batch only after the stream confirmed the previous one. Pipelined, every
   * aggregate's first event goes out at once and each later one as soon as the PubAck of its predecessor arrived (a
   * chain per aggregate, no barrier across aggregates); with `pipelinedPublish: false` the batch goes out in rounds,
   * round k holding the k-th event of each aggregate. Without it, a publish that
   * fails partway (an error PubAck for one message, a connection lost after some writes) can leave a later event of
   * an aggregate stored while an earlier one is not, and the retry then appends the earlier one after it: consumers
   * would see that aggregate out of order. Costs one PubAck round trip per extra event of the same aggregate in a
   * batch, on that aggregate's chain only; a batch with one event per aggregate goes out at once (measured here, with
   * rounds: a backlog of ONE aggregate drains at 1.2–1.7k events/s with it, 6.5–8.3k without). Turning it off is safe when no message can be refused on its own (no
   * `max_msg_size`, no `discard: new` limits) and the stream is not replicated (no leader changes): on one connection
   * to one server a failure then loses a suffix of the batch, never a message in its middle. @defaultValue true
   */
  strictOrder?: boolean | undefined;
  /**
   * Messages a subscriber asks the server for per pull request (`consume({ max_messages })`); the client re-pulls
   * as the batch drains. @defaultValue `clamp(4 × maxInFlight, 256, 1024)`
   */
  pullBatch?: number | undefined;
  /**
   * The durable consumer's `max_ack_pending` when it is created: how many delivered, unacknowledged messages the
   * server allows; also bounds the subscriber's local queue. @defaultValue `max(1000, 4 × maxInFlight)`
   */
  maxAckPending?: number | undefined;
  /**
   * Lifetime of a subscriber's pull requests, at least 1_000. The server keeps a pull request open until it expires,
   * even after its subscriber closed, and a message it routes there comes back only after `ackWaitMs`; a shorter
   * lifetime shortens that window, at the cost of one re-pull per lifetime while idle. Idle heartbeats come every
   * `min(5_000, pullExpiresMs / 2)` ms; nats.js re-pulls after two missed. @defaultValue 10_000
   */
  pullExpiresMs?: number | undefined;
  /** Delay before redelivery when a handler rejected. @defaultValue 1_000 */
  nakDelayMs?: number | undefined;
  /**
   * Keep order per aggregate after a lost delivery. JetStream gives a delivery that never reached its reader (a
   * subscriber killed with messages in hand, messages in transit when the connection or the server went down, a
   * message routed to a pull request whose reader is gone) back only after `ackWaitMs`, while later messages keep
   * flowing, so without this the handler can get an aggregate's event n+1 before its event n.
   *
   * With it, a subscriber never hands over a message while an earlier delivery of its consumer is lost: on
   * `subscribe`, when the durable consumer has unacknowledged deliveries, it re-creates the consumer from its ack
   * floor (delete, then add with `deliver_policy: 'by_start_sequence'` at the first unacknowledged stream sequence:
   * nats-server 2.9 cannot reset a consumer otherwise); while running, it checks that each delivery's consumer
   * sequence follows the previous one, and at a gap it drops the message, stops pulling, lets the running handlers
   * finish and ack, and re-creates the consumer from its ack floor the same way. Everything after the ack floor then
   * comes again in stream order; events already handled come twice (the inbox absorbs them), and delivery counts
   * start again at 1.
   *
   * It needs ONE active subscriber per group (per durable consumer): a second reader's deliveries look lost to the
   * first, and each re-creation voids the other's deliveries. The transport enforces that with a lease per stream and
   * group in a JetStream KV bucket (`leaseBucket`, `leaseTtlMs`): the subscriber that holds it consumes, every other
   * subscriber of the group (in this process or another replica) is a standby that consumes nothing and takes over
   * when the holder closes (at once) or stops renewing (crashed or cut off: within about `leaseTtlMs`). So several
   * replicas of a service can subscribe with the same group: one of them works at a time. To spread work, give each
   * subscriber its own group and its own aggregate types (each aggregate type is one subject,
   * `<subjectPrefix>.<aggregateType>`), and let `maxInFlight` run different aggregates of one subscriber
   * concurrently (the `Consumer` keeps one aggregate's events one after the other). Set `false` when several
   * subscribers should share a group's work and order after a failure does not matter (no lease then).
   * @defaultValue true
   * @example
   * ```ts
   * import { connect } from 'nats';
   * import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
   *
   * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
   * // several processes subscribe with the same group: order after a lost delivery is given up
   * const shared = new NatsJetStreamTransport({ connection: nc, orderedDelivery: false });
   * await shared.close();
   * await nc.close();
   * ```
   */
  orderedDelivery?: boolean | undefined;
  /**
   * Lifetime of a subscriber's lease on its group (with `orderedDelivery`), at least 1_000: the holder renews it every
   * `leaseTtlMs / 3` (one KV write) and stops consuming when it could not renew for `0.8 × leaseTtlMs` since the
   * start of its last successful renewal, before the entry expires and a standby may take over. A holder that crashed
   * or was cut off blocks its group for up to about `leaseTtlMs` (plus a standby's poll, `leaseTtlMs / 4`); a
   * shorter TTL fails over sooner and costs more KV writes. It is the `max_age` of the bucket when the transport creates
   * it; an existing bucket keeps its own, and the lease follows the bucket's. @defaultValue 5_000
   * @example
   * ```ts
   * import { connect } from 'nats';
   * import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
   *
   * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
   * // a standby takes over within about 2 s after the active replica was killed
   * const transport = new NatsJetStreamTransport({ connection: nc, leaseTtlMs: 2_000, leaseBucket: 'orders_leases' });
   * await transport.close();
   * await nc.close();
   * ```
   */
  leaseTtlMs?: number | undefined;
  /**
   * The JetStream KV bucket that holds the subscribers' leases (with `orderedDelivery`), created when missing with
   * `max_age = leaseTtlMs`; one key `<stream>.<group>` per group, whose value names the holder (the subscriber's
   * `consumer` or a random id, then a random suffix). Transports with a different `leaseTtlMs` need different buckets.
   * @defaultValue 'dataplane_outbox_leases'
   * @example
   * ```ts
   * import { connect } from 'nats';
   * import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
   *
   * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
   * const transport = new NatsJetStreamTransport({ connection: nc, leaseBucket: 'billing_leases' });
   * await transport.close();
   * await nc.close();
   * ```
   */
  leaseBucket?: string | undefined;
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * Counters of a {@link NatsJetStreamTransport} (a plain snapshot; subscriber counters include closed subscriptions).
 *
 * @since 0.1.0
 */
export interface NatsJetStreamTransportStats {
  /** `publish` calls that resolved. */
  publishBatches: number;
  /** Events in those calls (a republished event counts again; the stream drops the copy). */
  published: number;
  /**
   * Rounds those calls took: with `strictOrder`, the number of events of the aggregate with the most events in a call
   * (the longest chain of PubAck round trips), else 1 per call.
   */
  publishRounds: number;
  /** `publish` calls that rejected. */
  publishFailures: number;
  /** Messages received by subscribers. */
  delivered: number;
  /** Messages acked after their handler resolved. */
  acked: number;
  /** Messages nak'ed: the handler rejected, or the subscriber closed before starting them. */
  naked: number;
  /** Messages terminated because they are not valid events. */
  terminated: number;
  /**
   * Times a subscriber re-created its durable consumer from the ack floor because a delivery was lost
   * (`orderedDelivery`), not counting the re-creation on `subscribe` when deliveries of a previous reader were
   * pending.
   */
  resyncs: number;
  /**
   * Times a subscriber's pull (`consume()`) ended by itself while it was consuming (e.g. someone deleted the durable
   * consumer) and the subscriber created the consumer again (from the ack floor with `orderedDelivery`) and resumed.
   */
  reopens: number;
  /** Subscriptions of this transport that hold their group's lease now (with `orderedDelivery`). */
  leaseHeld: number;
  /** Times a subscription acquired its group's lease. */
  leaseAcquired: number;
  /**
   * Times a subscription lost its group's lease without releasing it (it could not renew in time, or another holder
   * had it) and stopped consuming.
   */
  leaseLost: number;
  /** Handlers running now. */
  inFlight: number;
  /** Messages received and waiting for a free handler slot. */
  queued: number;
}

/**
 * NATS JetStream transport: one subject per aggregate type, `Nats-Msg-Id` = event id (the broker drops a republish
 * inside the duplicate window), `publish` resolves when every PubAck arrived. `subscribe` uses a durable pull
 * consumer per group with explicit acks (an event is acked after the handler resolved, nak'ed when it rejected).
 *
 * @remarks
 * Publishing is pipelined: the events of a `publish` call are sent at once on the one connection, except that an
 * aggregate's next event is sent when the PubAck of its previous one arrived (`strictOrder`; other aggregates do not
 * wait for it), and the call resolves when the last PubAck arrived; see `pipelinedPublish`.
 * Subscribing uses `consume()` in callback mode with large pull batches; messages that arrive together are handed
 * to the handler in the same tick (so a grouping inbox commits them together), in arrival order, at most
 * `maxInFlight` at once. Acks are plain `+ACK`s, written together once per tick by nats.js; none is double-acked,
 * because a lost ack only causes a redelivery, which the inbox absorbs. `Subscription.close()` flushes the
 * connection so the acks of finished handlers reached the server before it resolves.
 *
 * Order per aggregate: events are stored in publish order (with `strictOrder`, even when a publish fails partway)
 * and delivered in stream order. A delivery that is lost (a subscriber killed with messages in hand, a reconnect,
 * a server restart) is redelivered by JetStream only after `ackWaitMs`, while later messages keep flowing; with
 * `orderedDelivery` (the default) the subscriber notices the loss (unacknowledged deliveries when it subscribes, a
 * gap in the consumer's delivery sequence while it runs) and re-creates the durable consumer from its ack floor, so
 * the lost event and everything after it are handed over again in stream order before anything newer. That needs
 * one active subscriber per group, which a lease in a JetStream KV bucket enforces (other subscribers of the group
 * are standbys); see `orderedDelivery` and `leaseTtlMs`. Either way the inbox applies every event exactly once.
 * `close()` naks the events it never started, which puts them ahead of newer messages.
 *
 * Liveness: when JetStream does not answer in time while `subscribe` sets up (the stream, the lease bucket, the first
 * lease attempt, the durable consumer), `subscribe` still resolves; the subscription consumes nothing (a standby),
 * reports each failure to `onError` and keeps trying with backoff until it is set up or closed. Bad configuration
 * (an `OUTBOX_INVALID_ARGUMENT`, a request the JetStream API refuses with 400) rejects at once. A pull that ends by
 * itself while the subscriber consumes (e.g. its durable consumer was deleted) is reported to `onError` and the
 * consumer is created again (from the ack floor with `orderedDelivery`; from the start of its stream as configured
 * when it was gone) and pulled again, counted in `reopens`.
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
  readonly #subscribers = new Set<PullSubscriber>();
  readonly #closedCounts = { delivered: 0, acked: 0, naked: 0, terminated: 0, resyncs: 0, reopens: 0, leaseAcquired: 0, leaseLost: 0 };
  readonly #keepers = new Map<PullSubscriber, LeaseKeeper>();
  #leases: Promise<{ kv: KvLike; watchKv: KvLike; ttlMs: number }> | undefined;
  readonly #pub = { publishBatches: 0, published: 0, publishRounds: 0, publishFailures: 0 };
  readonly #pipeline: PubAckPipeline | undefined;
  #js: JetStreamClientLike | undefined;
  #ready: Promise<JetStreamManagerLike> | undefined;
  #closed = false;

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad stream name, prefix, numeric option or `orderedDelivery`. */
  constructor(options: NatsJetStreamTransportOptions) {
    this.#o = options;
    this.#stream = options.stream ?? 'DATAPLANE_OUTBOX';
    this.#prefix = options.subjectPrefix ?? 'outbox';
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(this.#stream) || !/^[A-Za-z0-9_.-]{1,64}$/.test(this.#prefix)) {
      throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'bad stream name or subject prefix');
    }
    for (const k of ['publishTimeoutMs', 'pullBatch', 'maxAckPending', 'pullExpiresMs', 'ackWaitMs'] as const) {
      const v = options[k];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `${k} must be a positive integer`);
    }
    if (options.pullExpiresMs !== undefined && options.pullExpiresMs < 1000) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'pullExpiresMs must be >= 1000');
    if (options.orderedDelivery !== undefined && typeof options.orderedDelivery !== 'boolean') throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'orderedDelivery must be a boolean');
    const ttl = options.leaseTtlMs;
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1000)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'leaseTtlMs must be an integer >= 1000');
    if (options.leaseBucket !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(options.leaseBucket)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'leaseBucket must match [A-Za-z0-9_-]{1,64}');
    const nc = options.connection;
    if (options.pipelinedPublish !== false && typeof nc.publish === 'function' && typeof nc.subscribe === 'function') {
      this.#pipeline = new PubAckPipeline(nc as CorePublisherConnection, options.publishTimeoutMs ?? 10_000);
    }
  }

  /** The subject of an aggregate type. */
  subjectOf(aggregateType: string): string {
    return `${this.#prefix}.${aggregateType}`;
  }

  #ensure(): Promise<JetStreamManagerLike> {
    this.#ready ??= (async () => {
      const jsm = (await this.#o.connection.jetstreamManager()) as JetStreamManagerLike;
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

  #client(): JetStreamClientLike {
    this.#js ??= this.#o.connection.jetstream() as JetStreamClientLike;
    return this.#js;
  }

  /** {@inheritDoc Transport.publish} */
  async publish(events: readonly OutboxEvent[], options?: { signal?: AbortSignal | undefined }): Promise<void> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    if (events.length === 0) return;
    try {
      await this.#ensure();
      let rounds: number;
      if (this.#pipeline !== undefined) {
        // strictOrder: an aggregate's next event goes out when its previous one's PubAck arrived (a chain per
        // aggregate, no barrier between rounds); everything else goes out at once
        const chains = this.#o.strictOrder === false ? undefined : chainAfter(events);
        rounds = chains?.depth ?? 1;
        await this.#pipeline.publish(this.#pubMsgs(events), options?.signal, chains !== undefined && chains.depth > 1 ? chains.after : undefined);
      } else {
        const split = this.#o.strictOrder === false ? [events] : splitRounds(events);
        rounds = split.length;
        for (const round of split) {
          if (options?.signal?.aborted === true) throw new OutboxError('OUTBOX_ABORTED', 'publish aborted');
          await this.#publishRound(round);
        }
      }
      this.#pub.publishBatches++;
      this.#pub.published += events.length;
      this.#pub.publishRounds += rounds;
    } catch (err) {
      this.#pub.publishFailures++;
      throw err;
    }
  }

  #pubMsgs(events: readonly OutboxEvent[]): PubMsg[] {
    return events.map((e) => ({ subject: this.subjectOf(e.aggregateType), data: TE.encode(encodeEvent(e)), msgId: e.id }));
  }

  /** Publishes events with `js.publish`, concurrently (in order on the one connection); resolves when every PubAck arrived. */
  async #publishRound(events: readonly OutboxEvent[]): Promise<void> {
    const js = this.#client();
    const timeout = this.#o.publishTimeoutMs ?? 10_000;
    try {
      await Promise.all(events.map((e) => js.publish(this.subjectOf(e.aggregateType), TE.encode(encodeEvent(e)), { msgID: e.id, timeout })));
    } catch (err) {
      throw new OutboxError('OUTBOX_PUBLISH_FAILED', `JetStream publish failed: ${(err as Error).message}`, { cause: err, retryable: true });
    }
  }

  /** {@inheritDoc Transport.subscribe} */
  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.group)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'group must match [A-Za-z0-9_-]{1,64}');
    const maxInFlight = options.maxInFlight ?? 64;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxInFlight must be a positive integer');
    const config: Record<string, unknown> = {
      durable_name: options.group,
      ack_policy: 'explicit',
      ack_wait: (this.#o.ackWaitMs ?? 30_000) * 1_000_000,
      // filter_subjects needs NATS server >= 2.10; one type works everywhere
      ...(options.aggregateTypes.length === 1
        ? { filter_subject: this.subjectOf(options.aggregateTypes[0]!) }
        : { filter_subjects: options.aggregateTypes.map((t) => this.subjectOf(t)) }),
      max_ack_pending: this.#o.maxAckPending ?? Math.max(1000, maxInFlight * 4),
    };
    const ordered = this.#o.orderedDelivery !== false;
    const js = this.#client();
    const onError = this.#o.onError ?? (() => {});
    const nc = this.#o.connection;
    const expires = this.#o.pullExpiresMs ?? 10_000;
    const consume = {
      max_messages: this.#o.pullBatch ?? Math.min(1024, Math.max(256, maxInFlight * 4)),
      expires,
      idle_heartbeat: Math.min(5_000, Math.floor(expires / 2)),
      // a deleted consumer ends the consume() (closed() resolves to an error) and the subscriber reopens it, instead
      // of nats.js retrying the missing consumer for ever while the lease keeps the group to this subscriber
      abort_on_missing_resource: true,
    };
    const s = new PullSubscriber(handler, {
      maxInFlight,
      nakDelayMs: this.#o.nakDelayMs ?? 1000,
      closeNakDelayMs: 0,
      onError,
      flush: typeof nc.flush === 'function' ? () => nc.flush!() : undefined,
      open: async (callback) => (await js.consumers.get(this.#stream, options.group)).consume({ ...consume, callback }),
      resync: ordered ? async () => restartDurable(await this.#ensure(), this.#stream, config) : undefined,
      // the consumer may be gone (deleted): ordered, from the ack floor when it still exists, else as configured
      reopen: async () => {
        const jsm = await this.#ensure();
        return ordered ? restartDurable(jsm, this.#stream, config) : addDurable(jsm, this.#stream, config, await durableInfo(jsm, this.#stream, options.group));
      },
    });
    /** Where the consumer starts; with `orderedDelivery`, `holds` says whether this subscriber may still touch it. */
    const firstSeq = async (holds: () => boolean): Promise<number | undefined> => {
      const jsm = await this.#ensure();
      const existing = await durableInfo(jsm, this.#stream, options.group);
      if (!holds()) return undefined;
      // deliveries still unacknowledged belong to a reader that is gone (the previous lease holder): they would
      // come back only after ack_wait, behind later messages, so the consumer starts again from its ack floor
      return ordered && (existing?.num_ack_pending ?? 0) > 0 ? restartDurable(jsm, this.#stream, config) : addDurable(jsm, this.#stream, config, existing);
    };
    let keeper: LeaseKeeper | undefined;
    /**
     * One attempt to set up: the stream, then either the durable consumer and the pull, or (ordered) the lease
     * bucket and a lease keeper whose first acquisition succeeded or found the lease held (a standby).
     */
    const setUp = async (): Promise<void> => {
      await this.#ensure();
      if (!ordered) {
        await s.start((await firstSeq(() => true))!);
        return;
      }
      const { kv, watchKv, ttlMs } = await this.#leaseBucket();
      const token = globalThis.crypto.randomUUID().slice(0, 8);
      const k: LeaseKeeper = new LeaseKeeper({
        store: new KvLeaseStore(kv, `${this.#stream}.${options.group}`, watchKv),
        ttlMs,
        holder: `${options.consumer ?? globalThis.crypto.randomUUID()}/${token}`,
        onError,
        onLost: () => s.pause(),
        onAcquired: async () => {
          await s.settled(); // handlers of an earlier tenure of this subscriber run to the end first
          const seq = await firstSeq(() => k.held);
          if (seq !== undefined && k.held) await s.start(seq);
        },
      });
      await k.start(); // on failure it left nothing running; the subscriber is paused
      keeper = k;
      this.#keepers.set(s, k);
    };
    const wrap = (err: unknown): OutboxError =>
      OutboxError.is(err) ? err : new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `cannot subscribe group ${options.group}: ${(err as Error).message}`, { cause: err, retryable: true });
    // A first attempt that fails retryably (JetStream slow or away) does not fail subscribe: the subscription starts
    // as a standby (consuming nothing) and keeps trying in the background, reporting each failure to onError.
    // Bad configuration (a non-retryable error) fails at once.
    let closing = false;
    const giveUp = new AbortController();
    let settingUp: Promise<void> | undefined;
    try {
      await setUp();
    } catch (e) {
      const err = wrap(e);
      // a 400 from the JetStream API (e.g. subjects overlapping another stream's) is a configuration the server refuses
      if (!err.retryable || isBadRequest(e)) {
        await s.close();
        throw err;
      }
      onError(err);
      settingUp = (async () => {
        for (let attempt = 1; !closing; attempt++) {
          await sleep(backoffDelay(attempt, 200, 5_000), giveUp.signal);
          if (closing) return;
          if (nc.isClosed?.() === true) return onError(new OutboxError('OUTBOX_CLOSED', `connection closed: group ${options.group} is not consumed`));
          try {
            await setUp();
            return;
          } catch (e2) {
            onError(wrap(e2));
          }
        }
      })();
    }
    this.#subscribers.add(s);
    const sub: Subscription = {
      close: async () => {
        closing = true;
        giveUp.abort();
        await settingUp;
        if (keeper !== undefined) await keeper.close(() => s.close());
        else await s.close();
        this.#subs.delete(sub);
        if (this.#subscribers.delete(s)) {
          const st = s.stats();
          for (const k of ['delivered', 'acked', 'naked', 'terminated', 'resyncs', 'reopens'] as const) this.#closedCounts[k] += st[k];
          const ls = keeper?.stats();
          if (ls !== undefined) {
            this.#closedCounts.leaseAcquired += ls.acquired;
            this.#closedCounts.leaseLost += ls.lost;
          }
          this.#keepers.delete(s);
        }
      },
    };
    options.signal?.addEventListener('abort', () => void sub.close(), { once: true });
    this.#subs.add(sub);
    return sub;
  }

  /**
   * The lease bucket (opened once per transport): bound to a JetStream context with a short timeout for the lease's
   * writes (`kv`) and with the connection's usual one for its watch (`watchKv`), and the TTL of its entries.
   */
  #leaseBucket(): Promise<{ kv: KvLike; watchKv: KvLike; ttlMs: number }> {
    this.#leases ??= (async () => {
      const bucket = this.#o.leaseBucket ?? 'dataplane_outbox_leases';
      const ttl = this.#o.leaseTtlMs ?? 5_000;
      const views = this.#client().views;
      // lease writes time out well within a renewal period, so that a failed renewal is retried in time
      const leaseViews = (this.#o.connection.jetstream({ timeout: Math.max(1000, Math.floor(ttl / 4)), checkAPI: false }) as JetStreamClientLike).views;
      if (views === undefined || leaseViews === undefined) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'orderedDelivery needs a nats.js 2.x connection with JetStream KV (js.views.kv); pass orderedDelivery: false otherwise');
      // opened (created when missing) with the connection's usual JetStream timeout: a one-off setup may take longer
      const opened = await openLeaseBucket(async () => (await views.kv(bucket, { ttl, history: 1 })) as KvLike, bucket);
      // the same bucket bound (no request) to the short-timeout JetStream context for the lease's own writes
      const kv = (await leaseViews.kv(bucket, { bindOnly: true })) as KvLike;
      return { kv, watchKv: opened.kv, ttlMs: opened.ttlMs };
    })();
    this.#leases.catch(() => (this.#leases = undefined));
    return this.#leases;
  }

  /**
   * A snapshot of the counters.
   *
   * @example
   * ```ts
   * import { connect } from 'nats';
   * import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
   *
   * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
   * const transport = new NatsJetStreamTransport({ connection: nc });
   * const { published, publishRounds, delivered, acked, queued } = transport.stats();
   * console.log({ published, publishRounds, delivered, acked, queued });
   * await transport.close();
   * await nc.close();
   * ```
   */
  stats(): NatsJetStreamTransportStats {
    const out: NatsJetStreamTransportStats = { ...this.#pub, ...this.#closedCounts, leaseHeld: 0, inFlight: 0, queued: 0 };
    for (const s of this.#subscribers) {
      const st = s.stats();
      for (const k of ['delivered', 'acked', 'naked', 'terminated', 'resyncs', 'reopens', 'inFlight', 'queued'] as const) out[k] += st[k];
      const ls = this.#keepers.get(s)?.stats();
      if (ls !== undefined) {
        out.leaseHeld += ls.held ? 1 : 0;
        out.leaseAcquired += ls.acquired;
        out.leaseLost += ls.lost;
      }
    }
    return out;
  }

  /** Closes all subscriptions and the PubAck subscription (not the connection passed in). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    this.#pipeline?.close();
  }
}

/** Whether a JetStream API error (or its cause) is a 400 (bad request): a configuration the server refuses. */
function isBadRequest(err: unknown): boolean {
  for (let e = err as { api_error?: { code?: number }; cause?: unknown } | null | undefined, i = 0; e != null && i < 5; e = e.cause as typeof e, i++) {
    if (e.api_error?.code === 400) return true;
  }
  return false;
}
