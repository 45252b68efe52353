/*
 * Structural views of the nats.js 2.x API used by the JetStream transport. This module does not import nats: a
 * `NatsConnection` from `nats` (2.x) satisfies `NatsConnectionLike`.
 */

/** A JetStream message as seen by the subscriber (nats.js `JsMsg`). @internal */
export interface JsMsgLike {
  data: Uint8Array;
  /** The ack subject, `$JS.ACK.…`, which carries the delivery's sequences. */
  reply?: string | undefined;
  info: { redeliveryCount: number; deliverySequence?: number | undefined };
  ack(): void;
  nak(millis?: number): void;
  term?(reason?: string): void;
}

/** A running `consume()` of a pull consumer (nats.js `ConsumerMessages`). @internal */
export interface ConsumerMessagesLike {
  close(): Promise<void | Error>;
  closed(): Promise<void | Error>;
}

/** Options passed to nats.js `Consumer.consume` in callback mode. @internal */
export interface ConsumeOptionsLike {
  max_messages: number;
  expires: number;
  idle_heartbeat: number;
  callback: (m: JsMsgLike) => void;
  /** Stop (`closed()` resolves to an error) when the consumer or stream is gone, instead of retrying for ever. */
  abort_on_missing_resource?: boolean | undefined;
}

/** The part of a nats.js `KV` (`js.views.kv`) used by the subscriber lease. @internal */
export interface KvLike {
  create(key: string, data: Uint8Array): Promise<number>;
  update(key: string, data: Uint8Array, version: number): Promise<number>;
  delete(key: string, opts?: { previousSeq?: number }): Promise<void>;
  status(): Promise<{ ttl: number }>;
  watch?(opts: { key: string; include?: string }): Promise<AsyncIterable<{ operation: string }> & { stop(): void }>;
}

/** The part of nats.js `JetStreamClient` used here. @internal */
export interface JetStreamClientLike {
  views?: { kv(name: string, opts?: { ttl?: number; history?: number; bindOnly?: boolean }): Promise<unknown> } | undefined;
  publish(subject: string, data: Uint8Array, options?: { msgID?: string; timeout?: number }): Promise<{ duplicate: boolean; seq: number }>;
  consumers: { get(stream: string, durable: string): Promise<{ consume(opts: ConsumeOptionsLike): Promise<ConsumerMessagesLike> }> };
}

/** The fields of a JetStream `ConsumerInfo` used here. @internal */
export interface ConsumerInfoLike {
  config?: { deliver_policy?: string | undefined; opt_start_seq?: number | undefined } | undefined;
  delivered?: { consumer_seq: number; stream_seq: number } | undefined;
  ack_floor?: { consumer_seq: number; stream_seq: number } | undefined;
  num_ack_pending?: number | undefined;
}

/** The part of nats.js `JetStreamManager` used here. @internal */
export interface JetStreamManagerLike {
  streams: { info(name: string): Promise<unknown>; add(cfg: Record<string, unknown>): Promise<unknown> };
  consumers: {
    add(stream: string, cfg: Record<string, unknown>): Promise<ConsumerInfoLike>;
    info(stream: string, durable: string): Promise<ConsumerInfoLike>;
    delete(stream: string, durable: string): Promise<unknown>;
    update?(stream: string, durable: string, cfg: Record<string, unknown>): Promise<unknown>;
  };
}

/** A core NATS message (nats.js `Msg`): a PubAck or a status reply. @internal */
export interface NatsMsgLike {
  subject: string;
  data: Uint8Array;
  headers?: { code?: number; description?: string } | undefined;
}

/** A core NATS subscription (nats.js `Subscription`). @internal */
export interface NatsSubscriptionLike {
  unsubscribe(): void;
}

/**
 * The part of a nats.js 2.x `NatsConnection` used by {@link NatsJetStreamTransport}.
 *
 * `jetstream()` and `jetstreamManager()` are required. `publish`, `subscribe` and `options.inboxPrefix` enable the
 * pipelined publish path (every nats.js 2.x connection has them); `flush` lets `Subscription.close()` wait until
 * its acks reached the server.
 *
 * @example
 * ```ts
 * import { connect } from 'nats';
 * import type { NatsConnectionLike } from '@dataplane/outbox/nats';
 *
 * const nc: NatsConnectionLike = await connect({ servers: 'nats://127.0.0.1:4222' });
 * ```
 * @since 0.1.0
 */
export interface NatsConnectionLike {
  /** A JetStream client; the lease writes its KV key through one with a shorter request timeout (and `checkAPI: false`). */
  jetstream(options?: { timeout?: number; checkAPI?: boolean }): unknown;
  jetstreamManager(): Promise<unknown>;
  /** Core publish (fire and forget). */
  publish?(subject: string, data: Uint8Array, options?: unknown): void;
  /** Core subscription with a callback. */
  subscribe?(subject: string, options?: unknown): unknown;
  /** Resolves when the server has processed everything sent so far (PING/PONG). */
  flush?(): Promise<void>;
  /** Whether the connection was closed for good (a subscription still setting up stops retrying then). */
  isClosed?(): boolean;
  /** Connection options; `inboxPrefix` is honoured for reply subjects. */
  options?: { inboxPrefix?: string | undefined } | undefined;
}
