import { OutboxError } from '../../errors.js';
import { aggregateHash, decodeEvent, encodeEvent, type OutboxEvent } from '../../envelope/envelope.js';
import { backoffDelay, sleep } from '../../relay/backoff.js';
import type { DeliveryHandler, SubscribeOptions, Subscription, Transport } from '../../transport/types.js';

/** The part of an ioredis client used here (declared structurally: this module does not import ioredis). */
export interface RedisLike {
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
  pipeline(commands: Array<Array<string | number>>): { exec(): Promise<Array<[Error | null, unknown]> | null> };
  duplicate(): RedisLike;
  quit(): Promise<unknown>;
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

/**
 * Redis Streams transport (ioredis). `publish` pipelines XADDs and resolves when Redis replied to all of them;
 * `subscribe` reads with a consumer group, acknowledges (XACK) after the handler resolved, first re-reads its own
 * pending entries after a restart and takes over other consumers' entries idle longer than `claimIdleMs` (XAUTOCLAIM).
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
      res = await this.#o.client.pipeline(cmds).exec();
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

    const handleEntries = async (key: string, entries: Entry[]): Promise<void> => {
      const acks: string[] = [];
      let i = 0;
      const running: Array<Promise<void>> = [];
      // start handlers in stream order, at most maxInFlight at once
      for (const [id, fields] of entries) {
        if (fields === null) {
          acks.push(id); // trimmed before it was acknowledged
          continue;
        }
        let event: OutboxEvent;
        try {
          const raw = fields[fields.indexOf('e') + 1];
          event = decodeEvent(raw ?? '');
        } catch (err) {
          onError(new OutboxError('OUTBOX_INVALID_EVENT', `undecodable entry ${key} ${id} skipped`, { cause: err }));
          acks.push(id);
          continue;
        }
        if (running.length - i >= maxInFlight) await running[i++]!.catch(() => {});
        running.push(
          handler(event, { deliveryCount: 1 }).then(
            () => void acks.push(id),
            (err: unknown) => onError(err),
          ),
        );
      }
      await Promise.allSettled(running);
      if (acks.length > 0) await conn.call('XACK', key, group, ...acks);
    };

    const loop = async (): Promise<void> => {
      let failures = 0;
      let ownPending = true;
      let nextClaim = 0;
      while (!ctrl.signal.aborted) {
        try {
          const now = Date.now();
          if (now >= nextClaim) {
            nextClaim = now + Math.max(100, idle / 2);
            for (const k of keys) {
              const r = (await conn.call('XAUTOCLAIM', k, group, consumer, idle, '0-0', 'COUNT', count)) as [string, Entry[], string[]?];
              if (r[1].length > 0) await handleEntries(k, r[1]);
            }
          }
          const args: Array<string | number> = ['GROUP', group, consumer, 'COUNT', count];
          if (!ownPending) args.push('BLOCK', block);
          args.push('STREAMS', ...keys, ...keys.map(() => (ownPending ? '0' : '>')));
          const res = (await conn.call('XREADGROUP', ...args)) as Array<[string, Entry[]]> | null;
          let got = 0;
          for (const [k, entries] of res ?? []) {
            got += entries.length;
            if (entries.length > 0) await handleEntries(k, entries);
          }
          if (ownPending && got === 0) ownPending = false;
          failures = 0;
        } catch (err) {
          if (ctrl.signal.aborted) break;
          onError(err);
          failures++;
          if (String((err as Error).message).includes('NOGROUP')) await ensureGroups().catch(() => {});
          ownPending = true;
          await sleep(backoffDelay(failures, 100, 5000), ctrl.signal);
        }
      }
    };
    const running = loop();
    const sub: Subscription = {
      close: async () => {
        ctrl.abort();
        await running;
        this.#subs.delete(sub);
        await conn.quit().catch(() => {});
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
