import { OutboxError } from '../errors.js';
import type { CdcTransaction } from './change-event.js';

/** What a CDC relay reads from: a committed-transaction stream with explicit acknowledgement (`PgChangeStream`). */
export interface CdcSource {
  start(): Promise<void>;
  /** Waits for at least one transaction, returns what is buffered up to `max`; `[]` when closed. */
  nextBatch(max: number): Promise<CdcTransaction[]>;
  /** Acknowledges a transaction and all before it. */
  ack(tx: CdcTransaction): Promise<void>;
  close(): Promise<void>;
  stats(): object;
}

/** Options of {@link createCdcRelay}. */
export interface CdcRelayOptions<E> {
  /** Makes a fresh change stream; called again after a retryable stream failure. */
  source: () => CdcSource;
  /** The messages to publish for one transaction (may be empty: the transaction is then only acknowledged). */
  toMessages: (tx: CdcTransaction) => readonly E[];
  /** Publishes messages in order; must resolve only once the broker confirmed all of them. */
  publish: (messages: readonly E[]) => Promise<void>;
  /** Transactions published per round trip at most. @defaultValue 512 */
  maxBatchTransactions?: number | undefined;
  /** Backoff after a failed publish or a failed stream, doubling up to `maxMs`. @defaultValue `{ initialMs: 100, maxMs: 5000 }` */
  backoff?: { initialMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** Told about every error the relay recovers from (and the one that stops it). */
  onError?: ((err: unknown) => void) | undefined;
  /** Clock for latency figures. @defaultValue Date.now */
  clock?: (() => number) | undefined;
  signal?: AbortSignal | undefined;
}

/** Counters of a CDC relay. */
export interface CdcRelayStats {
  state: 'idle' | 'running' | 'backoff' | 'closed' | 'failed';
  transactions: number;
  messagesPublished: number;
  publishFailures: number;
  streamRestarts: number;
  /** Commit-to-published delay of the last batch's newest transaction, ms. */
  lastDelayMs: number;
  lastError: string | undefined;
  source: object | undefined;
}

/**
 * A relay from a change stream to a transport: publishes each committed transaction's messages and only then
 * acknowledges it, so a crash at any point re-delivers rather than loses (at-least-once; consumers dedupe with
 * an inbox). A failed publish is retried with backoff without acknowledging; a retryable stream failure
 * (`OUTBOX_REPLICATION_FAILED`, `OUTBOX_SLOT_BUSY`) restarts the stream from the last acknowledged position; a
 * lost slot or publication stops the relay with that typed error.
 *
 * @example
 * ```ts
 * import { createCdcRelay } from '@dataplane/outbox';
 * import { createPgChangeStream } from '@dataplane/outbox/pg-cdc';
 *
 * const relay = createCdcRelay({
 *   source: () => createPgChangeStream({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', slot: 's', publication: 'p', tables: ['public.customers'] }),
 *   toMessages: (tx) => tx.changes,
 *   publish: async (changes) => console.log('publish', changes.length),
 * });
 * await relay.start();
 * await relay.close();
 * ```
 * @since 0.1.0
 */
export class CdcRelay<E> {
  readonly #opts: CdcRelayOptions<E>;
  readonly #max: number;
  readonly #initial: number;
  readonly #maxBackoff: number;
  readonly #clock: () => number;
  #source: CdcSource | undefined;
  #loop: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #stats: CdcRelayStats = {
    state: 'idle',
    transactions: 0,
    messagesPublished: 0,
    publishFailures: 0,
    streamRestarts: 0,
    lastDelayMs: 0,
    lastError: undefined,
    source: undefined,
  };
  #failure: unknown;

  constructor(options: CdcRelayOptions<E>) {
    if (typeof options?.source !== 'function' || typeof options.publish !== 'function' || typeof options.toMessages !== 'function') {
      throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'createCdcRelay needs source(), toMessages() and publish()');
    }
    this.#opts = options;
    this.#max = options.maxBatchTransactions ?? 512;
    this.#initial = options.backoff?.initialMs ?? 100;
    this.#maxBackoff = options.backoff?.maxMs ?? 5000;
    this.#clock = options.clock ?? Date.now;
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** Starts the stream (waiting for leadership when the stream does so) and the publish loop. Idempotent. */
  async start(): Promise<void> {
    if (this.#loop) return;
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'relay is closed');
    this.#source = this.#opts.source();
    await this.#source.start();
    this.#stats.state = 'running';
    this.#loop = this.#run();
  }

  /** Resolves when the relay stops; rejects with the error that stopped it (a lost slot, say). */
  async done(): Promise<void> {
    await this.#loop;
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  async #run(): Promise<void> {
    let delay = this.#initial;
    while (!this.#closed) {
      let batch: CdcTransaction[];
      try {
        batch = await this.#source!.nextBatch(this.#max);
      } catch (err) {
        if (this.#closed) break;
        this.#opts.onError?.(err);
        this.#stats.lastError = String((err as Error)?.message ?? err);
        if (!OutboxError.is(err) || !err.retryable) {
          this.#failure = err;
          this.#stats.state = 'failed';
          await this.#source?.close().catch(() => {});
          return;
        }
        // restart the stream from the last acknowledged position
        this.#stats.state = 'backoff';
        await this.#source?.close().catch(() => {});
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.#maxBackoff);
        if (this.#closed) break;
        try {
          this.#source = this.#opts.source();
          await this.#source.start();
          this.#stats.streamRestarts++;
          this.#stats.state = 'running';
        } catch (startErr) {
          this.#opts.onError?.(startErr);
        }
        continue;
      }
      if (batch.length === 0) break; // closed
      const messages = batch.flatMap((tx) => this.#opts.toMessages(tx));
      // publish until confirmed; never acknowledge before
      let pubDelay = this.#initial;
      while (messages.length > 0) {
        try {
          await this.#opts.publish(messages);
          break;
        } catch (err) {
          this.#stats.publishFailures++;
          this.#stats.lastError = String((err as Error)?.message ?? err);
          this.#opts.onError?.(err);
          if (this.#closed) return;
          this.#stats.state = 'backoff';
          await this.#sleep(pubDelay);
          pubDelay = Math.min(pubDelay * 2, this.#maxBackoff);
          if (this.#closed) return;
        }
      }
      this.#stats.state = 'running';
      delay = this.#initial;
      for (const tx of batch) await this.#source!.ack(tx);
      this.#stats.transactions += batch.length;
      this.#stats.messagesPublished += messages.length;
      this.#stats.lastDelayMs = Math.max(0, this.#clock() - batch[batch.length - 1]!.commitTime);
    }
  }

  /** Counters, with the stream's own stats under `source`. */
  stats(): CdcRelayStats {
    return { ...this.#stats, source: this.#source?.stats() };
  }

  /** Stops after the batch in flight (which is then published and acknowledged, or left for the next reader). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#loop?.catch(() => {});
      return;
    }
    this.#closed = true;
    this.#wake?.();
    await this.#source?.close().catch(() => {});
    await this.#loop?.catch(() => {});
    if (this.#stats.state !== 'failed') this.#stats.state = 'closed';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a {@link CdcRelay}.
 *
 * @example
 * ```ts
 * import { createCdcRelay, type CdcTransaction } from '@dataplane/outbox';
 *
 * const relay = createCdcRelay({
 *   source: () => { throw new Error('give a PgChangeStream factory'); },
 *   toMessages: (tx: CdcTransaction) => tx.changes,
 *   publish: async () => {},
 * });
 * void relay;
 * ```
 * @since 0.1.0
 */
export function createCdcRelay<E>(options: CdcRelayOptions<E>): CdcRelay<E> {
  return new CdcRelay(options);
}
