import { OutboxError } from '../errors.js';
import type { OutboxSource } from '../store/types.js';
import type { Transport } from '../transport/types.js';
import { backoffDelay, sleep } from './backoff.js';

/** Options of {@link PollingRelay}. */
export interface PollingRelayOptions {
  /** The outbox to drain. */
  store: OutboxSource;
  /** Where to publish. */
  transport: Transport;
  /** Events per claim. @defaultValue 256 */
  batchSize?: number | undefined;
  /** Wait after an empty poll. @defaultValue 20 */
  pollIntervalMs?: number | undefined;
  /** Backoff after a failed claim/publish (exponential, full jitter). @defaultValue `{ initialMs: 100, maxMs: 5000 }` */
  backoff?: { initialMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** Delete sent rows older than this. 0 disables cleanup. @defaultValue 3_600_000 (1 h) */
  retentionMs?: number | undefined;
  /** How often to run cleanup. @defaultValue 60_000 */
  cleanupIntervalMs?: number | undefined;
  /** Told about every error the relay recovers from. */
  onError?: ((err: unknown) => void) | undefined;
  /** @defaultValue Math.random */
  random?: (() => number) | undefined;
  /** @defaultValue Date.now */
  clock?: (() => number) | undefined;
  /** Aborting closes the relay. */
  signal?: AbortSignal | undefined;
}

/** Counters of a {@link PollingRelay}. */
export interface PollingRelayStats {
  state: 'idle' | 'running' | 'backoff' | 'closed';
  published: number;
  batches: number;
  failures: number;
  cleaned: number;
  lastError: string | undefined;
}

/**
 * Drains an outbox into a transport: claim a batch, publish it, mark it sent only once the transport confirmed; on
 * failure nothing is marked and the relay backs off (exponential, jittered) and retries. Run as many relays as you
 * like: the store's claim keeps per-aggregate order. A crash between publish and mark re-publishes (consumers dedupe).
 *
 * @example
 * ```ts
 * import { MemoryTransport, PollingRelay } from '@dataplane/outbox';
 * import { PgOutboxStore } from '@dataplane/outbox/pg';
 * import pg from 'pg';
 *
 * const store = new PgOutboxStore({ pool: new pg.Pool() });
 * const relay = new PollingRelay({ store, transport: new MemoryTransport() });
 * await relay.start();
 * await relay.close();
 * ```
 * @since 0.1.0
 */
export class PollingRelay {
  readonly #o: PollingRelayOptions;
  readonly #batch: number;
  readonly #poll: number;
  readonly #bInit: number;
  readonly #bMax: number;
  readonly #retention: number;
  readonly #cleanEvery: number;
  readonly #random: () => number;
  readonly #clock: () => number;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #stats: PollingRelayStats = { state: 'idle', published: 0, batches: 0, failures: 0, cleaned: 0, lastError: undefined };

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for bad sizes. */
  constructor(options: PollingRelayOptions) {
    this.#o = options;
    this.#batch = options.batchSize ?? 256;
    this.#poll = options.pollIntervalMs ?? 20;
    this.#bInit = options.backoff?.initialMs ?? 100;
    this.#bMax = options.backoff?.maxMs ?? 5000;
    this.#retention = options.retentionMs ?? 3_600_000;
    this.#cleanEvery = options.cleanupIntervalMs ?? 60_000;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? Date.now;
    if (!Number.isInteger(this.#batch) || this.#batch < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'batchSize must be a positive integer');
    if (!(this.#poll >= 0) || !(this.#bInit > 0) || !(this.#bMax >= this.#bInit)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'bad poll or backoff interval');
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** Starts the loop (idempotent). */
  async start(): Promise<void> {
    if (this.#loop !== undefined || this.#stats.state === 'closed') return;
    this.#stats.state = 'running';
    this.#loop = this.#run();
  }

  /**
   * Runs one claim-publish-mark step.
   *
   * @returns Events published.
   * @throws whatever the store or transport threw (nothing was marked sent).
   */
  async drainOnce(): Promise<number> {
    return this.#o.store.claim(this.#batch, (evs) => this.#o.transport.publish(evs, { signal: this.#abort.signal }));
  }

  async #run(): Promise<void> {
    const sig = this.#abort.signal;
    let failures = 0;
    let nextClean = this.#clock() + this.#cleanEvery;
    while (!sig.aborted) {
      try {
        if (this.#retention > 0 && this.#clock() >= nextClean) {
          nextClean = this.#clock() + this.#cleanEvery;
          this.#stats.cleaned += await this.#o.store.cleanup(this.#retention);
        }
        const n = await this.drainOnce();
        failures = 0;
        this.#stats.state = 'running';
        if (n > 0) {
          this.#stats.published += n;
          this.#stats.batches++;
        } else {
          await sleep(this.#poll, sig);
        }
      } catch (err) {
        if (sig.aborted) break;
        failures++;
        this.#stats.failures++;
        this.#stats.state = 'backoff';
        this.#stats.lastError = err instanceof Error ? err.message : String(err);
        this.#o.onError?.(err);
        await sleep(backoffDelay(failures, this.#bInit, this.#bMax, this.#random), sig);
      }
    }
  }

  /** A snapshot of the counters. */
  stats(): PollingRelayStats {
    return { ...this.#stats };
  }

  /** Stops after the in-flight batch finishes (idempotent). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#stats.state = 'closed';
  }

  /** Same as {@link PollingRelay.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
