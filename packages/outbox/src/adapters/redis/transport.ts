import { OutboxError } from '../../errors.js';
import { aggregateHash, decodeEvent, encodeEvent, type OutboxEvent } from '../../envelope/envelope.js';
import { backoffDelay, sleep } from '../../relay/backoff.js';
import type { DeliveryHandler, SubscribeOptions, Subscription, Transport } from '../../transport/types.js';

/** The part of an ioredis client used here (declared structurally: this module does not import ioredis). */
export interface RedisLike {
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
  pipeline(commands: Array<Array<string | number>>): { exec(): Promise<Array<[Error | null, unknown]> | null> };
  /** MULTI/EXEC of the commands (publish stores a batch atomically). */
  multi(commands: Array<Array<string | number>>): { exec(): Promise<Array<[Error | null, unknown]> | null> };
  duplicate(): RedisLike;
  quit(): Promise<unknown>;
  /**
   * Connection events (ioredis emits `close` when a connection is lost). A subscriber listens for `close` on its
   * reading connection: a read whose connection was lost while it was under way may have been re-sent by the client
   * after reconnecting (ioredis `autoResendUnfulfilledCommands`), its first delivery lost; the subscriber then
   * re-reads its own pending entries instead. A client without `on` gets no such protection.
   */
  on?(event: 'close', listener: () => void): unknown;
}

/** Options of {@link RedisStreamsTransport}. */
export interface RedisStreamsTransportOptions {
  /** An ioredis client (publishing); each subscription reads on its own `duplicate()`. */
  client: RedisLike;
  /** Stream key prefix: streams are `<prefix>:<aggregateType>` or `<prefix>:<aggregateType>:<partition>`. @defaultValue 'dataplane:outbox' */
  prefix?: string | undefined;
  /** Streams per aggregate type, by aggregate-id hash (1 = one stream per type). @defaultValue 1 */
  partitions?: number | undefined;
  /** Trimming: `{ maxLen }` (XADD MAXLEN ~) or `{ minAgeMs }` (XADD MINID ~ now - age). @defaultValue no trimming */
  trim?: { maxLen: number } | { minAgeMs: number } | undefined;
  /** Pending entries idle this long are taken over with XAUTOCLAIM. @defaultValue 30_000 */
  claimIdleMs?: number | undefined;
  /** XREADGROUP BLOCK time. @defaultValue 1000 */
  blockMs?: number | undefined;
  /** Entries read per call. @defaultValue 128 */
  readCount?: number | undefined;
  /** Told about recovered errors and undecodable entries (which are acknowledged and skipped). */
  onError?: ((err: unknown) => void) | undefined;
  /** @defaultValue Date.now */
  clock?: (() => number) | undefined;
}

type Entry = [string, string[] | null];

const reconnected = (): OutboxError =>
  new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', 'redis connection lost during a read: re-reading own pending entries', { retryable: true });

/**
 * Redis Streams transport (ioredis). `publish` sends a batch's XADDs in one MULTI/EXEC (stored whole or not at all) and resolves when Redis replied;
 * `subscribe` reads with a consumer group, acknowledges (XACK) after the handler resolved, first re-reads its own
 * pending entries after a restart and takes over other consumers' entries idle longer than `claimIdleMs` (XAUTOCLAIM).
 * A subscriber reads ahead: it keeps up to `maxInFlight` handlers running across reads (handlers start in stream
 * order) and acknowledges finished entries in batches, one XACK per stream per flush, on a connection of its own.
 * Redis Streams has no deduplication: pair it with an inbox.
 *
 * @remarks Per-aggregate order holds per stream and subscriber; with several subscribers in one group use
 * `partitions` and give each subscriber its own partitions (`subscribe({ partitions })`).
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStreamsTransport } from '@dataplane/outbox/redis';
 *
 * const transport = new RedisStreamsTransport({ client: new Redis(), trim: { maxLen: 1_000_000 } });
 * await transport.close();
 * ```
 * @since 0.1.0
 */
export class RedisStreamsTransport implements Transport {
  readonly #o: RedisStreamsTransportOptions;
  readonly #prefix: string;
  readonly #parts: number;
  readonly #subs = new Set<Subscription>();
  #closed = false;

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for bad options. */
  constructor(options: RedisStreamsTransportOptions) {
    this.#o = options;
    this.#prefix = options.prefix ?? 'dataplane:outbox';
    this.#parts = options.partitions ?? 1;
    if (!Number.isInteger(this.#parts) || this.#parts < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'partitions must be a positive integer');
  }

  /** The stream key an event goes to. */
  streamOf(aggregateType: string, aggregateId: string): string {
    return this.#parts === 1 ? `${this.#prefix}:${aggregateType}` : `${this.#prefix}:${aggregateType}:${aggregateHash(aggregateId) % this.#parts}`;
  }

  /** {@inheritDoc Transport.publish} */
  async publish(events: readonly OutboxEvent[]): Promise<void> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    if (events.length === 0) return;
    const trim = this.#o.trim;
    const trimArgs: Array<string | number> =
      trim === undefined ? [] : 'maxLen' in trim ? ['MAXLEN', '~', trim.maxLen] : ['MINID', '~', `${Math.max(0, (this.#o.clock ?? Date.now)() - trim.minAgeMs)}-0`];
    const cmds = events.map((e) => ['xadd', this.streamOf(e.aggregateType, e.aggregateId), ...trimArgs, '*', 'e', encodeEvent(e)]);
    let res: Array<[Error | null, unknown]> | null;
    try {
      // MULTI/EXEC, not a bare pipeline: the batch is stored whole or not at all. With a pipeline, a command refused
      // while Redis restarts (LOADING) could fail while a later event of the same aggregate was stored, and the
      // relay's retry would then append the earlier event after it (a per-aggregate order violation).
      res = await this.#o.client.multi(cmds).exec();
    } catch (err) {
      throw new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', 'redis XADD failed', { cause: err, retryable: true });
    }
    const failed = res === null ? new Error('pipeline discarded') : res.find((r) => r[0] !== null)?.[0];
    if (failed) throw new OutboxError('OUTBOX_PUBLISH_FAILED', `redis XADD failed: ${failed.message}`, { cause: failed, retryable: true });
  }

  /**
   * {@inheritDoc Transport.subscribe}
   * @param options - Also `partitions`: which partitions of each type to read. @defaultValue all
   */
  async subscribe(options: SubscribeOptions & { partitions?: readonly number[] | undefined }, handler: DeliveryHandler): Promise<Subscription> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    const parts = options.partitions ?? Array.from({ length: this.#parts }, (_, i) => i);
    const keys = options.aggregateTypes.flatMap((t) => (this.#parts === 1 ? [`${this.#prefix}:${t}`] : parts.map((p) => `${this.#prefix}:${t}:${p}`)));
    const group = options.group;
    const consumer = options.consumer ?? `c-${Math.random().toString(36).slice(2, 10)}`;
    const conn = this.#o.client.duplicate();
    // counts lost connections of the reading connection: a read that straddles one is not trusted (see the loop)
    let lost = 0;
    conn.on?.('close', () => lost++);
    const ctrl = new AbortController();
    options.signal?.addEventListener('abort', () => ctrl.abort(), { once: true });
    const count = this.#o.readCount ?? 128;
    const block = this.#o.blockMs ?? 1000;
    const idle = this.#o.claimIdleMs ?? 30_000;
    const maxInFlight = options.maxInFlight ?? 64;
    const onError = this.#o.onError ?? (() => {});

    const ensureGroups = async (): Promise<void> => {
      for (const k of keys) {
        await conn.call('XGROUP', 'CREATE', k, group, '0', 'MKSTREAM').catch((err: Error) => {
          if (!String(err.message).includes('BUSYGROUP')) throw err;
        });
      }
    };
    await ensureGroups();

    // Read-ahead: the loop reads the next entries while earlier ones are still being handled, keeping up to
    // maxInFlight handlers running; handlers are started in stream order (the consumer keeps per-aggregate order)
    // and acknowledged in batches (one XACK per stream per flush) on a connection of their own, so an XACK never
    // waits behind a blocking XREADGROUP.
    const ackConn = this.#o.client.duplicate();
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const acks = new Map<string, string[]>();
    let acking: Promise<void> | undefined;
    let ackQueued = false;
    const flushAcks = async (): Promise<void> => {
      while (acks.size > 0) {
        const batch = [...acks];
        acks.clear();
        try {
          const res = await ackConn.pipeline(batch.map(([k, ids]) => ['xack', k, group, ...ids])).exec();
          const failed = res === null ? new Error('pipeline discarded') : res.find((r) => r[0] !== null)?.[0];
          if (failed) throw failed;
        } catch (err) {
          // not acknowledged: the entries stay pending and are delivered again (the inbox absorbs them)
          onError(err);
        }
      }
    };
    const scheduleAck = (): void => {
      if (ackQueued) return;
      ackQueued = true;
      setImmediate(() => {
        ackQueued = false;
        if (acking !== undefined) return; // the running flush picks the new ids up
        acking = flushAcks().finally(() => {
          acking = undefined;
          if (acks.size > 0) scheduleAck();
        });
      });
    };
    const ack = (key: string, id: string): void => {
      const ids = acks.get(key);
      if (ids === undefined) acks.set(key, [id]);
      else ids.push(id);
      scheduleAck();
    };
    const done = (): void => {
      inFlight--;
      if (wake !== undefined) {
        const w = wake;
        wake = undefined;
        // after the current microtasks: a group commit resolves many handlers at once, read once for all of them
        setImmediate(w);
      }
    };
    /** Waits until fewer than `limit` handlers run. */
    const capacity = async (limit: number): Promise<void> => {
      while (inFlight > limit) await new Promise<void>((r) => (wake = r));
    };

    const dispatch = (key: string, entries: Entry[]): void => {
      // handlers start in stream order, synchronously: the consumer chains them per aggregate
      for (const [id, fields] of entries) {
        if (fields === null) {
          ack(key, id); // trimmed before it was acknowledged
          continue;
        }
        let event: OutboxEvent;
        try {
          const raw = fields[fields.indexOf('e') + 1];
          event = decodeEvent(raw ?? '');
        } catch (err) {
          onError(new OutboxError('OUTBOX_INVALID_EVENT', `undecodable entry ${key} ${id} skipped`, { cause: err }));
          ack(key, id);
          continue;
        }
        inFlight++;
        let handled: Promise<void>;
        try {
          handled = handler(event, { deliveryCount: 1 });
        } catch (err) {
          handled = Promise.reject(err); // a handler that throws instead of rejecting still frees its slot
        }
        handled.then(
          () => {
            ack(key, id);
            done();
          },
          (err: unknown) => {
            onError(err);
            done();
          },
        );
      }
    };

    const loop = async (): Promise<void> => {
      let failures = 0;
      // own pending entries (delivered before a restart or an error, never acknowledged) are read first, from a
      // cursor per stream so that entries still being handled are not delivered twice
      let ownPending = true;
      let cursors = new Map(keys.map((k) => [k, '0']));
      let nextClaim = 0;
      while (!ctrl.signal.aborted) {
        try {
          await capacity(maxInFlight - 1);
          if (ctrl.signal.aborted) break;
          const now = Date.now();
          if (!ownPending && now >= nextClaim) {
            nextClaim = now + Math.max(100, idle / 2);
            for (const k of keys) {
              const before = lost;
              const r = (await conn.call('XAUTOCLAIM', k, group, consumer, idle, '0-0', 'COUNT', count)) as [string, Entry[], string[]?];
              if (lost !== before) throw reconnected();
              if (r[1].length > 0) dispatch(k, r[1]);
            }
          }
          const n = Math.min(count, maxInFlight - inFlight);
          const args: Array<string | number> = ['GROUP', group, consumer, 'COUNT', Math.max(1, n)];
          if (!ownPending) args.push('BLOCK', block);
          args.push('STREAMS', ...keys, ...keys.map((k) => (ownPending ? (cursors.get(k) ?? '0') : '>')));
          const before = lost;
          const res = (await conn.call('XREADGROUP', ...args)) as Array<[string, Entry[]]> | null;
          // The connection was lost while this read was under way: the client may have re-sent it after reconnecting,
          // and the first execution may have delivered entries whose reply never arrived (they are in this consumer's
          // pending list, unseen). Handling this reply would handle event n+1 before such an event n. Instead, drop
          // it (its entries are pending too) and re-read the own pending entries, in stream order, from the start.
          if (lost !== before) throw reconnected();
          let got = 0;
          for (const [k, entries] of res ?? []) {
            got += entries.length;
            if (entries.length > 0) {
              if (ownPending) cursors.set(k, entries[entries.length - 1]![0]);
              dispatch(k, entries);
            }
          }
          if (ownPending && got === 0) ownPending = false;
          failures = 0;
        } catch (err) {
          if (ctrl.signal.aborted) break;
          onError(err);
          failures++;
          if (String((err as Error).message).includes('NOGROUP')) await ensureGroups().catch(() => {});
          await sleep(backoffDelay(failures, 100, 5000), ctrl.signal);
          // re-read own pending entries once the handlers of everything read so far have finished
          await capacity(0);
          ownPending = true;
          cursors = new Map(keys.map((k) => [k, '0']));
        }
      }
      await capacity(0);
      while (acking !== undefined || acks.size > 0) await (acking ?? flushAcks());
    };
    const running = loop();
    const sub: Subscription = {
      close: async () => {
        ctrl.abort();
        await running;
        this.#subs.delete(sub);
        await conn.quit().catch(() => {});
        await ackConn.quit().catch(() => {});
      },
    };
    this.#subs.add(sub);
    return sub;
  }

  /** Closes all subscriptions (not the client passed in). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
  }
}
