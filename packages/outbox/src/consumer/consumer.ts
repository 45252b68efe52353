import { OutboxError } from '../errors.js';
import type { OutboxEvent } from '../envelope/envelope.js';
import { backoffDelay, sleep } from '../relay/backoff.js';
import type { EventRegistry } from '../schema/registry.js';
import type { Inbox } from '../store/types.js';
import type { Subscription, Transport } from '../transport/types.js';

/** Options of {@link Consumer}. */
export interface ConsumerOptions<Ctx> {
  /** Consumer name: the transport group and the inbox/dead-letter key. */
  name: string;
  transport: Transport;
  /** The consumer's own inbox (dedup in the same transaction as the effect). */
  inbox: Inbox<Ctx>;
  aggregateTypes: readonly string[];
  /** The effect; runs inside the inbox transaction with its context (e.g. the pg client). */
  handler: (event: OutboxEvent, ctx: Ctx) => Promise<void>;
  /** When given, events are upcast to the newest version before the handler. */
  registry?: EventRegistry | undefined;
  /** Attempts before dead-lettering. @defaultValue 5 */
  maxAttempts?: number | undefined;
  /** Retry backoff (exponential, full jitter). @defaultValue `{ initialMs: 50, maxMs: 5000 }` */
  backoff?: { initialMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** Transport subscriber name. */
  consumerId?: string | undefined;
  /** Events handled concurrently (different aggregates). @defaultValue 64 */
  maxInFlight?: number | undefined;
  onError?: ((err: unknown, event: OutboxEvent) => void) | undefined;
  /** @defaultValue Math.random */
  random?: (() => number) | undefined;
}

/** Counters of a {@link Consumer}. */
export interface ConsumerStats {
  delivered: number;
  handled: number;
  duplicates: number;
  retries: number;
  deadLettered: number;
}

/**
 * Consumes events through an inbox: each delivery runs the handler and records the event id in one transaction of
 * the consumer's database (a redelivery is absorbed), retries failures with jittered exponential backoff, and after
 * `maxAttempts` stores the event as a dead letter and moves on. Events of one aggregate are handled one after the
 * other in delivery order; different aggregates run concurrently. `close()` stops fetching and finishes in-flight work.
 *
 * @example
 * ```ts
 * import { Consumer, MemoryTransport } from '@dataplane/outbox';
 * import { PgInbox } from '@dataplane/outbox/pg';
 * import pg from 'pg';
 *
 * const pool = new pg.Pool();
 * const consumer = new Consumer({
 *   name: 'billing', transport: new MemoryTransport(), inbox: new PgInbox({ pool }), aggregateTypes: ['order'],
 *   handler: async (event, client) => { await client.query('insert into invoices(order_id) values ($1)', [event.aggregateId]); },
 * });
 * await consumer.start();
 * await consumer.close();
 * ```
 * @since 0.1.0
 */
export class Consumer<Ctx> {
  readonly #o: ConsumerOptions<Ctx>;
  readonly #max: number;
  readonly #bInit: number;
  readonly #bMax: number;
  readonly #random: () => number;
  readonly #chains = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #sub: Subscription | undefined;
  #starting: Promise<void> | undefined;
  #stats: ConsumerStats = { delivered: 0, handled: 0, duplicates: 0, retries: 0, deadLettered: 0 };

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad name or attempt count. */
  constructor(options: ConsumerOptions<Ctx>) {
    if (typeof options.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(options.name)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'name must match [A-Za-z0-9_-]{1,64}');
    this.#o = options;
    this.#max = options.maxAttempts ?? 5;
    if (!Number.isInteger(this.#max) || this.#max < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxAttempts must be >= 1');
    this.#bInit = options.backoff?.initialMs ?? 50;
    this.#bMax = options.backoff?.maxMs ?? 5000;
    this.#random = options.random ?? Math.random;
  }

  /** Subscribes (idempotent). */
  async start(): Promise<void> {
    this.#starting ??= (async () => {
      this.#sub = await this.#o.transport.subscribe(
        { group: this.#o.name, aggregateTypes: this.#o.aggregateTypes, consumer: this.#o.consumerId, maxInFlight: this.#o.maxInFlight, signal: this.#abort.signal },
        (event) => this.#deliver(event),
      );
    })();
    await this.#starting;
  }

  #deliver(event: OutboxEvent): Promise<void> {
    this.#stats.delivered++;
    const key = `${event.aggregateType}\u0000${event.aggregateId}`;
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.#handle(event));
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
    return next;
  }

  async #handle(event: OutboxEvent): Promise<void> {
    let lastErr: unknown;
    for (let attempt = 1; attempt <= this.#max; attempt++) {
      try {
        const e = this.#o.registry === undefined ? event : await this.#o.registry.upcast(event);
        const r = await this.#o.inbox.process(this.#o.name, event, (ctx) => this.#o.handler(e, ctx));
        if (r === 'handled') this.#stats.handled++;
        else this.#stats.duplicates++;
        return;
      } catch (err) {
        lastErr = err;
        this.#o.onError?.(err, event);
        if (OutboxError.is(err, 'OUTBOX_INVALID_EVENT')) break; // will not get better
        if (attempt < this.#max) {
          this.#stats.retries++;
          await sleep(backoffDelay(attempt, this.#bInit, this.#bMax, this.#random));
        }
      }
    }
    // dead-letter; if even that fails, reject so the transport redelivers later
    await this.#o.inbox.deadLetter(this.#o.name, event, lastErr instanceof Error ? lastErr.message : String(lastErr), this.#max);
    this.#stats.deadLettered++;
  }

  /**
   * Replays dead letters through the handler (and the inbox); a replayed letter is removed on success.
   *
   * @param options - `limit`: how many at most. @defaultValue 100
   * @returns How many were handled (or found already handled) and how many failed again.
   */
  async replayDeadLetters(options: { limit?: number | undefined } = {}): Promise<{ replayed: number; failed: number }> {
    const letters = await this.#o.inbox.listDeadLetters(this.#o.name, options);
    let replayed = 0;
    let failed = 0;
    for (const l of letters) {
      try {
        const e = this.#o.registry === undefined ? l.event : await this.#o.registry.upcast(l.event);
        await this.#o.inbox.process(this.#o.name, l.event, (ctx) => this.#o.handler(e, ctx));
        await this.#o.inbox.removeDeadLetter(this.#o.name, l.event.id);
        replayed++;
      } catch (err) {
        failed++;
        this.#o.onError?.(err, l.event);
      }
    }
    return { replayed, failed };
  }

  /** A snapshot of the counters. */
  stats(): ConsumerStats {
    return { ...this.#stats };
  }

  /** Stops fetching and waits for in-flight events to be handled and acknowledged (idempotent). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#starting?.catch(() => {});
    await this.#sub?.close();
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** Same as {@link Consumer.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
