import { OutboxError } from '../errors.js';
import type { OutboxEvent } from '../envelope/envelope.js';
import { backoffDelay, sleep } from '../relay/backoff.js';
import type { EventRegistry } from '../schema/registry.js';
import type { DeadLetter, Inbox } from '../store/types.js';
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
  /**
   * How often the consumer looks for dead letters whose replay an operator requested (`dataplane-outbox
   * dead-letters replay --consumer <name>`), in milliseconds; `0` turns it off. Needs an inbox with the optional
   * `listReplayRequests` and `clearReplayRequest` methods (`PgInbox` has them); with another inbox it is
   * skipped. Requested letters are replayed like {@link Consumer.replayDeadLetters} does, each in its aggregate's
   * queue (never concurrently with a live event of the same aggregate), one aggregate's letters in order. A letter
   * whose replay fails again keeps its new error and one more attempt, and its request is cleared (so it is not
   * retried every interval): request it again once the cause is fixed. The later requested letters of that
   * aggregate in the same round are not replayed either (their requests are cleared too), to keep their order.
   * @defaultValue 5000
   */
  deadLetterReplayIntervalMs?: number | undefined;
}

/** Counters of a {@link Consumer}. */
export interface ConsumerStats {
  delivered: number;
  handled: number;
  duplicates: number;
  retries: number;
  deadLettered: number;
  /** Dead letters replayed (handled, or found already handled) and removed, by request or by {@link Consumer.replayDeadLetters}. */
  deadLettersReplayed: number;
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
 *   deadLetterReplayIntervalMs: 5_000, // replays what `dataplane-outbox dead-letters replay` requested
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
  readonly #replayMs: number;
  #starting: Promise<void> | undefined;
  #replayLoop: Promise<void> | undefined;
  #stats: ConsumerStats = { delivered: 0, handled: 0, duplicates: 0, retries: 0, deadLettered: 0, deadLettersReplayed: 0 };

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad name, attempt count or replay interval. */
  constructor(options: ConsumerOptions<Ctx>) {
    if (typeof options.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(options.name)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'name must match [A-Za-z0-9_-]{1,64}');
    this.#o = options;
    this.#max = options.maxAttempts ?? 5;
    if (!Number.isInteger(this.#max) || this.#max < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxAttempts must be >= 1');
    this.#bInit = options.backoff?.initialMs ?? 50;
    this.#bMax = options.backoff?.maxMs ?? 5000;
    this.#random = options.random ?? Math.random;
    this.#replayMs = options.deadLetterReplayIntervalMs ?? 5000;
    if (!Number.isFinite(this.#replayMs) || this.#replayMs < 0) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'deadLetterReplayIntervalMs must be >= 0');
  }

  /** Subscribes (idempotent). */
  async start(): Promise<void> {
    this.#starting ??= (async () => {
      this.#sub = await this.#o.transport.subscribe(
        { group: this.#o.name, aggregateTypes: this.#o.aggregateTypes, consumer: this.#o.consumerId, maxInFlight: this.#o.maxInFlight, signal: this.#abort.signal },
        (event) => this.#deliver(event),
      );
      const inbox = this.#o.inbox;
      if (this.#replayMs > 0 && inbox.listReplayRequests !== undefined && inbox.clearReplayRequest !== undefined && !this.#abort.signal.aborted) {
        this.#replayLoop = this.#replayRequested();
      }
    })();
    await this.#starting;
  }

  #deliver(event: OutboxEvent): Promise<void> {
    this.#stats.delivered++;
    return this.#enqueue(event, () => this.#handle(event));
  }

  /** Runs `work` after everything queued for the event's aggregate (live events and replays share the queue). */
  #enqueue(event: OutboxEvent, work: () => Promise<void>): Promise<void> {
    const key = `${event.aggregateType}\u0000${event.aggregateId}`;
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.then(work);
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
    return next;
  }

  /** Every `deadLetterReplayIntervalMs` until close: replays the letters an operator requested. */
  async #replayRequested(): Promise<void> {
    const inbox = this.#o.inbox;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await sleep(this.#replayMs, signal);
      if (signal.aborted) return;
      let letters: DeadLetter[];
      try {
        letters = await inbox.listReplayRequests!(this.#o.name, 100);
      } catch {
        continue; // the inbox's database is unavailable: try again next interval
      }
      // aggregates whose replay failed in this round: their later letters wait, to keep their order
      const failed = new Set<string>();
      await Promise.allSettled(
        letters.map((l) =>
          this.#enqueue(l.event, async () => {
            const key = `${l.event.aggregateType}\u0000${l.event.aggregateId}`;
            try {
              if (failed.has(key)) {
                await inbox.clearReplayRequest!(this.#o.name, l.event.id);
                return;
              }
              const error = await this.#replayOne(l);
              if (error !== undefined) {
                failed.add(key);
                await inbox.clearReplayRequest!(this.#o.name, l.event.id, error);
              }
            } catch {
              // removing or updating the letter failed (database unavailable): the request stays for the next interval
              failed.add(key);
            }
          }),
        ),
      );
    }
  }

  /**
   * Replays one letter through the inbox and removes it. Returns the error message when the handler (or the inbox
   * transaction) failed again; throws when removing the letter failed.
   */
  async #replayOne(l: DeadLetter): Promise<string | undefined> {
    try {
      const e = this.#o.registry === undefined ? l.event : await this.#o.registry.upcast(l.event);
      await this.#o.inbox.process(this.#o.name, l.event, (ctx) => this.#o.handler(e, ctx));
    } catch (err) {
      this.#o.onError?.(err, l.event);
      return err instanceof Error ? err.message : String(err);
    }
    await this.#o.inbox.removeDeadLetter(this.#o.name, l.event.id);
    this.#stats.deadLettersReplayed++;
    return undefined;
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
        if ((await this.#replayOne(l)) === undefined) replayed++;
        else failed++; // #replayOne reported it
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
    await this.#replayLoop;
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** Same as {@link Consumer.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
