import { OutboxError } from '../../errors.js';
import type { KvLike } from './driver.js';

const TE = new TextEncoder();

/**
 * The one key of a lease in a key-value store whose entries expire `ttlMs` after their last write (a JetStream KV
 * bucket with `max_age`). Every write is compare-and-set. @internal
 */
export interface LeaseStore {
  /** Writes `value` if the key is absent (never written, deleted or expired); its revision, or undefined when held. */
  create(value: string): Promise<number | undefined>;
  /** Writes `value` if the key's revision is still `revision`; the new revision, or undefined when it is not. */
  update(value: string, revision: number): Promise<number | undefined>;
  /** Deletes the key if its revision is still `revision` (a conflict is ignored: the key is someone else's). */
  remove(revision: number): Promise<void>;
  /** Calls `onRelease` whenever the key is deleted; resolves to a function that stops watching. Optional. */
  watch?(onRelease: () => void): Promise<() => void>;
}

/** Time as a {@link LeaseKeeper} sees it (injected so that tests run on a fake clock). @internal */
export interface LeaseClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The machine's clock. @internal */
export const systemClock: LeaseClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Settings of a {@link LeaseKeeper}. @internal */
export interface LeaseKeeperOptions {
  store: LeaseStore;
  /** How long an entry lives after its last write (the bucket's `max_age`). */
  ttlMs: number;
  /** The value written: who holds the lease (unique per keeper). */
  holder: string;
  /** Called when the lease was acquired; start consuming. A rejection gives the lease back (retried later). */
  onAcquired: () => Promise<void>;
  /** Called when the lease was lost (not renewed in time, or someone else holds it): stop consuming now. */
  onLost: () => void;
  onError: (err: unknown) => void;
  clock?: LeaseClock | undefined;
}

/** Counters of a {@link LeaseKeeper}. @internal */
export interface LeaseKeeperStats {
  held: boolean;
  /** Times the lease was acquired. */
  acquired: number;
  /** Times it was lost without being released (fenced or taken). */
  lost: number;
}

/**
 * Holds an active/standby lease in a {@link LeaseStore}.
 *
 * Standby: tries to create the key every `ttl/4` (at once when a watch reports a release). Holder: renews it with
 * compare-and-set every `ttl/3` (every `ttl/10` after a failed attempt). It fences itself, calling `onLost`, when a
 * renewal finds the key changed, or when no renewal succeeded within `ttl − margin` (`margin = ttl/5`) of the START
 * of its last successful write: that write reached the store after it started, so the entry expires no earlier than
 * `start + ttl`, and nobody else can acquire before this keeper stopped. A fence timer, independent of the store
 * calls, enforces that even when a call hangs. `close(drain)` stops acquiring, keeps renewing while `drain` runs,
 * then deletes the key at the revision it wrote, so that a standby takes over at once.
 *
 * At most one store call runs at a time. A write that completes after the keeper fenced or closed is deleted again.
 *
 * @example
 * ```ts
 * const keeper = new LeaseKeeper({ store, ttlMs: 5000, holder: 'c1#3f2a', onAcquired: start, onLost: stop, onError });
 * await keeper.start();
 * await keeper.close(() => subscriber.close());
 * ```
 * @internal
 */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #clock: LeaseClock;
  readonly #margin: number;
  #state: 'standby' | 'held' | 'closed' = 'standby';
  #closing = false;
  #revision = 0;
  /** Clock time at which the last successful write (create or update) was started. */
  #writtenFrom = 0;
  /** Bumped on every acquisition and loss: a renewal or activation of an earlier tenure is stale. */
  #tenure = 0;
  #step: unknown;
  #fence: unknown;
  #op: Promise<void> | undefined;
  /** The running `onAcquired`, and the same with its failure handled (the lease given back). */
  #activation: Promise<void> | undefined;
  #activating: Promise<void> | undefined;
  #starting = false;
  #failed = false;
  #unwatch: (() => void) | undefined;
  #counts = { acquired: 0, lost: 0 };

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#margin = Math.floor(options.ttlMs / 5);
  }

  /** Whether this keeper holds the lease now. */
  get held(): boolean {
    return this.#state === 'held';
  }

  stats(): LeaseKeeperStats {
    return { held: this.held, ...this.#counts };
  }

  /**
   * Makes the first attempt to acquire, waits for `onAcquired` when it succeeded, and keeps going in the background.
   *
   * @throws whatever the store threw on that first attempt (nothing is left running then).
   */
  async start(): Promise<void> {
    if (this.#o.store.watch !== undefined) {
      const unwatch = await this.#o.store.watch(() => {
        if (this.#state === 'standby' && !this.#closing) this.#schedule(0);
      });
      if (this.#state === 'closed') unwatch();
      else this.#unwatch = unwatch;
    }
    this.#starting = true;
    try {
      await this.#run(true);
      await this.#activation;
    } catch (err) {
      await this.#activating; // the lease is given back
      this.#state = 'closed';
      this.#clock.clearTimeout(this.#step);
      this.#unwatch?.();
      throw err;
    } finally {
      this.#starting = false;
    }
  }

  /** One step: acquire (standby) or renew (holder); schedules the next. */
  #run(rethrow = false): Promise<void> {
    if (this.#op !== undefined || this.#state === 'closed' || (this.#closing && this.#state === 'standby')) return this.#op ?? Promise.resolve();
    this.#clock.clearTimeout(this.#step);
    const what = this.#state === 'held' ? 'renewal' : 'acquisition';
    const op = (what === 'renewal' ? this.#renew() : this.#acquire())
      .catch((err: unknown) => {
        this.#failed = true;
        if (rethrow) throw err;
        this.#o.onError(new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `lease ${what} failed: ${(err as Error).message}`, { cause: err, retryable: true }));
      })
      .finally(() => {
        this.#op = undefined;
        this.#next();
      });
    this.#op = op.catch(() => {}); // awaited elsewhere only to wait for it
    return op;
  }

  #next(): void {
    if (this.#state === 'closed' || (this.#closing && this.#state === 'standby')) return;
    const ttl = this.#o.ttlMs;
    if (this.#state === 'standby') this.#schedule(Math.floor(ttl / 4));
    else if (this.#failed) this.#schedule(Math.floor(ttl / 10));
    else this.#schedule(Math.max(0, this.#writtenFrom + Math.floor(ttl / 3) - this.#clock.now()));
  }

  #schedule(ms: number): void {
    this.#clock.clearTimeout(this.#step);
    this.#step = this.#clock.setTimeout(() => void this.#run(), ms);
  }

  async #acquire(): Promise<void> {
    this.#failed = false;
    const from = this.#clock.now();
    const revision = await this.#o.store.create(this.#o.holder);
    if (revision === undefined) return;
    // closing, or the write took so long that the fence would already be due: give it back
    if (this.#closing || this.#state !== 'standby' || this.#clock.now() - from >= this.#o.ttlMs - this.#margin) {
      await this.#o.store.remove(revision);
      return;
    }
    this.#state = 'held';
    this.#tenure++;
    this.#counts.acquired++;
    this.#revision = revision;
    this.#written(from);
    const tenure = this.#tenure;
    this.#activation = this.#o.onAcquired();
    this.#activating = this.#activation.catch(async (err: unknown) => {
      if (!this.#starting) this.#o.onError(err); // else start() throws it
      if (this.#tenure !== tenure || this.#state !== 'held') return;
      // could not start consuming: give the lease back so that someone else (or a later attempt) can
      this.#lose(false);
      await this.#op;
      if (this.#tenure === tenure + 1 && (this.#state as string) === 'standby') await this.#o.store.remove(this.#revision).catch(this.#o.onError);
    });
  }

  async #renew(): Promise<void> {
    this.#failed = true; // until it succeeded
    const tenure = this.#tenure;
    const from = this.#clock.now();
    const revision = await this.#o.store.update(this.#o.holder, this.#revision);
    if (tenure !== this.#tenure || this.#state !== 'held') {
      // fenced (or closed) while the write was under way: it is ours, give it back
      if (revision !== undefined) await this.#o.store.remove(revision);
      return;
    }
    if (revision === undefined) {
      this.#lose(true);
      return;
    }
    this.#failed = false;
    this.#revision = revision;
    this.#written(from);
  }

  /** Records a successful write started at `from` and (re)arms the fence. */
  #written(from: number): void {
    this.#writtenFrom = from;
    this.#clock.clearTimeout(this.#fence);
    const left = from + this.#o.ttlMs - this.#margin - this.#clock.now();
    if (left <= 0) this.#lose(true);
    else this.#fence = this.#clock.setTimeout(() => this.#state === 'held' && this.#lose(true), left);
  }

  /** Stops holding: fences the consumer at once. */
  #lose(count: boolean): void {
    this.#state = 'standby';
    this.#tenure++;
    if (count) this.#counts.lost++;
    this.#clock.clearTimeout(this.#fence);
    this.#o.onLost();
    if (this.#op === undefined) this.#next();
  }

  /**
   * Stops acquiring; while `drain` runs (the subscriber finishing its handlers) a held lease is still renewed; then
   * deletes the key at the revision this keeper wrote, so that a standby takes over at once. Idempotent.
   */
  async close(drain: () => Promise<void>): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#unwatch?.();
    if (this.#state === 'standby') this.#clock.clearTimeout(this.#step);
    try {
      await drain();
    } finally {
      this.#clock.clearTimeout(this.#step);
      await this.#op;
      await this.#activating;
      this.#clock.clearTimeout(this.#step);
      this.#clock.clearTimeout(this.#fence);
      const held = this.#state === 'held';
      this.#state = 'closed';
      if (held) await this.#o.store.remove(this.#revision).catch(this.#o.onError);
    }
  }
}

/** Whether a JetStream error says that the expected last sequence did not match (a compare-and-set conflict). */
function isConflict(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string } | null;
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(String(e?.message));
}

/**
 * A {@link LeaseStore} on one key of a JetStream KV bucket (nats.js `js.views.kv`). @internal
 *
 * `watchKv` (the same bucket, e.g. bound to a JetStream context with a longer request timeout) serves `watch`, a
 * one-off setup; `kv` serves the writes. @defaultValue watchKv = kv
 *
 * @example
 * ```ts
 * const store = new KvLeaseStore(await js.views.kv('leases', { ttl: 5000 }), 'STREAM.group');
 * ```
 */
export class KvLeaseStore implements LeaseStore {
  readonly #kv: KvLike;
  readonly #key: string;
  readonly #watchKv: KvLike;

  constructor(kv: KvLike, key: string, watchKv: KvLike = kv) {
    this.#kv = kv;
    this.#key = key;
    this.#watchKv = watchKv;
  }

  async create(value: string): Promise<number | undefined> {
    try {
      return await this.#kv.create(this.#key, TE.encode(value));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async update(value: string, revision: number): Promise<number | undefined> {
    try {
      return await this.#kv.update(this.#key, TE.encode(value), revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async remove(revision: number): Promise<void> {
    try {
      await this.#kv.delete(this.#key, { previousSeq: revision });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  async watch(onRelease: () => void): Promise<() => void> {
    if (this.#watchKv.watch === undefined) return () => {};
    const it = await this.#watchKv.watch({ key: this.#key, include: 'updates_only' });
    void (async () => {
      for await (const e of it) if (e.operation === 'DEL' || e.operation === 'PURGE') onRelease();
    })().catch(() => {});
    return () => it.stop();
  }
}

/**
 * Opens (creating it if missing, with `max_age = ttlMs`) the KV bucket of the leases and returns it with the TTL its
 * entries really have: an existing bucket keeps the `max_age` it was created with, and the lease must follow it.
 *
 * @throws OutboxError `OUTBOX_INVALID_ARGUMENT` when the existing bucket's entries never expire (a crashed holder
 * would block its group for ever); `OUTBOX_TRANSPORT_UNAVAILABLE` when the bucket cannot be opened.
 * @internal
 */
export async function openLeaseBucket(open: () => Promise<KvLike>, bucket: string): Promise<{ kv: KvLike; ttlMs: number }> {
  let kv: KvLike;
  let ttlMs: number;
  try {
    kv = await open();
    ttlMs = (await kv.status()).ttl;
  } catch (err) {
    throw new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `cannot open the lease bucket ${bucket}: ${(err as Error).message}`, { cause: err, retryable: true });
  }
  if (!(ttlMs >= 1000)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `lease bucket ${bucket} exists with a TTL (max_age) of ${ttlMs} ms; it needs one of at least 1000 ms`);
  return { kv, ttlMs };
}
