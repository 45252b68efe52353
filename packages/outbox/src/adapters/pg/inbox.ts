import { OutboxError } from '../../errors.js';
import { aggregateHash, validateEvent, type OutboxEvent } from '../../envelope/envelope.js';
import { isUuid } from '../../envelope/uuid.js';
import type { DeadLetter, Inbox } from '../../store/types.js';
import { lastResult, type PgPoolLike, type PgQueryable } from './store.js';

/** Options of {@link PgInbox}. */
export interface PgInboxOptions {
  /** A `pg.Pool` of the consumer's own database. */
  pool: PgPoolLike;
  /** Schema of the inbox tables. @defaultValue 'public' */
  schema?: string | undefined;
  /** Table prefix: `<prefix>_inbox`, `<prefix>_dead_letters`. @defaultValue 'dataplane' */
  prefix?: string | undefined;
  /**
   * Most `process` calls committed in one transaction (group commit). `1` turns grouping off.
   * @defaultValue 128
   */
  maxGroupSize?: number | undefined;
  /**
   * How long the first call of a group waits for more calls before the group starts, in milliseconds. With `0` no
   * time is added: a group takes the calls already waiting (those made in the same tick) plus every call that arrived
   * while the previous group's transaction was running, so grouping grows with load and costs nothing when idle.
   * @defaultValue 0
   */
  maxGroupWaitMs?: number | undefined;
  /**
   * Groups committed at the same time, each on its own pool connection. Calls are spread over these lanes by a hash
   * of the event's aggregate id, so the calls of one aggregate always share a lane and commit in call order. Keep it
   * below the pool's size. With more than one lane, effects of different aggregates run in concurrent transactions:
   * effects that update the same rows may then wait for each other, and a deadlock between two groups only makes
   * PostgreSQL abort one of them, whose calls are then retried (see {@link PgInbox}).
   * @defaultValue 2
   */
  concurrency?: number | undefined;
}

/** Counters of a {@link PgInbox} (a plain snapshot). */
export interface PgInboxStats {
  /** Transactions begun by `process` (one per group, plus one per call re-run alone after a failed group). */
  transactions: number;
  /** `process` calls taken into a group. */
  events: number;
  /** Calls resolved `'handled'`. */
  handled: number;
  /** Calls resolved `'duplicate'`. */
  duplicates: number;
  /** Calls rejected (their effect threw, or their transaction failed). */
  failed: number;
  /** Largest group so far. */
  maxGroup: number;
  /** Groups whose single transaction failed (an effect threw, or the commit failed) and that were run again with a savepoint per effect. */
  fallbacks: number;
}

interface Pending {
  consumer: string;
  event: OutboxEvent;
  key: string;
  effect: (ctx: PgQueryable) => Promise<void>;
  resolve: (r: 'handled' | 'duplicate') => void;
  reject: (err: unknown) => void;
  /** Outcome inside the current group's transaction. */
  result: 'handled' | 'duplicate' | undefined;
  error: unknown;
  failed: boolean;
}

interface Lane {
  queue: Pending[];
  running: boolean;
  scheduled: boolean;
}

const IDENT = /^[a-z_][a-z0-9_]{0,40}$/;
/** Consumer names that can be written into SQL text as they are. */
const SAFE_CONSUMER = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Inbox in the consumer's PostgreSQL: `process` inserts `(consumer, event id)` and runs the effect with the same
 * client in one transaction; a second delivery hits the primary key and is skipped. Dead letters live beside it.
 *
 * Group commit: concurrent `process` calls (a `Consumer` runs up to `maxInFlight` across aggregates) are executed in
 * one transaction of up to `maxGroupSize` calls: `BEGIN` with one `insert ... on conflict do nothing returning` for
 * all their inbox rows (one round trip), each fresh call's effect, then `COMMIT`. If anything in it fails, nothing was
 * committed and the group runs again with each effect inside its own `SAVEPOINT`: an effect that throws rolls back
 * only itself and its inbox row and rejects only its caller; the others commit and resolve together. If that
 * transaction too fails as a whole, each of its calls is retried alone, so one bad effect (for example a deferred
 * constraint) cannot fail its neighbours. Two calls with the same consumer and event id never share a group (the
 * later waits for the next one and sees the outcome of the earlier). Calls are spread over `concurrency` lanes by
 * aggregate id hash; each lane runs one group at a time on its own connection, so one aggregate's calls commit in
 * call order. Effects run one after the other on the group's client: an effect must not commit, roll back or release
 * savepoints it did not create, and may run more than once (only its database writes are exactly-once).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PgInbox } from '@dataplane/outbox/pg';
 *
 * const inbox = new PgInbox({ pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }) });
 * await inbox.migrate();
 * ```
 * @since 0.1.0
 */
export class PgInbox implements Inbox<PgQueryable> {
  readonly #pool: PgPoolLike;
  readonly #inbox: string;
  readonly #dead: string;
  readonly #schema: string;
  readonly #maxGroup: number;
  readonly #waitMs: number;
  readonly #lanes: Lane[];
  #stats: PgInboxStats = { transactions: 0, events: 0, handled: 0, duplicates: 0, failed: 0, maxGroup: 0, fallbacks: 0 };

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad identifier or group option. */
  constructor(options: PgInboxOptions) {
    const schema = options.schema ?? 'public';
    const prefix = options.prefix ?? 'dataplane';
    if (!IDENT.test(schema) || !IDENT.test(prefix)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'schema and prefix must be lower-case identifiers');
    this.#pool = options.pool;
    this.#schema = schema;
    this.#inbox = `${schema}.${prefix}_inbox`;
    this.#dead = `${schema}.${prefix}_dead_letters`;
    this.#maxGroup = options.maxGroupSize ?? 128;
    this.#waitMs = options.maxGroupWaitMs ?? 0;
    if (!Number.isInteger(this.#maxGroup) || this.#maxGroup < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxGroupSize must be an integer >= 1');
    if (!Number.isFinite(this.#waitMs) || this.#waitMs < 0) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxGroupWaitMs must be >= 0');
    const lanes = options.concurrency ?? 2;
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > 64) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'concurrency must be an integer 1..64');
    this.#lanes = Array.from({ length: lanes }, () => ({ queue: [], running: false, scheduled: false }));
  }

  /** A snapshot of the group-commit counters. */
  stats(): PgInboxStats {
    return { ...this.#stats };
  }

  /** Creates the inbox and dead-letter tables (idempotent). */
  async migrate(): Promise<void> {
    await this.#pool.query(`create schema if not exists ${this.#schema}`).catch(() => {});
    await this.#pool.query(`create table if not exists ${this.#inbox} (consumer text not null, event_id uuid not null, handled_at timestamptz not null default now(), primary key (consumer, event_id))`).catch(ignoreDup);
    await this.#pool.query(`create table if not exists ${this.#dead} (consumer text not null, event_id uuid not null, event jsonb not null, error text not null, attempts int not null, failed_at timestamptz not null default now(), primary key (consumer, event_id))`).catch(ignoreDup);
    // replay requests of the operator tool (dataplane-outbox dead-letters replay); added to tables of older versions
    await this.#pool.query(`alter table ${this.#dead} add column if not exists replay_requested_at timestamptz`).catch(ignoreDup);
  }

  /**
   * {@inheritDoc Inbox.process}
   *
   * Joins the next group commit (see {@link PgInbox}); resolves once the group's transaction committed.
   */
  process(consumer: string, event: OutboxEvent, effect: (ctx: PgQueryable) => Promise<void>): Promise<'handled' | 'duplicate'> {
    return new Promise((resolve, reject) => {
      const lane = this.#lanes.length === 1 ? this.#lanes[0]! : this.#lanes[aggregateHash(event.aggregateId) % this.#lanes.length]!;
      lane.queue.push({ consumer, event, key: `${consumer}\u0000${event.id.toLowerCase()}`, effect, resolve, reject, result: undefined, error: undefined, failed: false });
      this.#schedule(lane);
    });
  }

  #schedule(lane: Lane): void {
    if (lane.running || lane.scheduled || lane.queue.length === 0) return;
    lane.scheduled = true;
    // 0 ms: one macrotask turn, so calls made in the same tick share the group
    if (this.#waitMs > 0 && lane.queue.length < this.#maxGroup) setTimeout(() => this.#fire(lane), this.#waitMs);
    else setImmediate(() => this.#fire(lane));
  }

  #fire(lane: Lane): void {
    lane.scheduled = false;
    if (lane.running) return;
    lane.running = true;
    void this.#drain(lane).finally(() => {
      lane.running = false;
      this.#schedule(lane);
    });
  }

  /** Runs a lane's groups back to back while calls keep arriving (those that came during a commit form the next group). */
  async #drain(lane: Lane): Promise<void> {
    while (lane.queue.length > 0) await this.#runGroup(this.#take(lane));
  }

  /** Takes up to maxGroupSize calls, at most one per (consumer, event id); later copies stay queued, in order. */
  #take(lane: Lane): Pending[] {
    const group: Pending[] = [];
    const keys = new Set<string>();
    const rest: Pending[] = [];
    for (const p of lane.queue) {
      if (group.length < this.#maxGroup && !keys.has(p.key)) {
        keys.add(p.key);
        group.push(p);
      } else rest.push(p);
    }
    lane.queue = rest;
    this.#stats.events += group.length;
    if (group.length > this.#stats.maxGroup) this.#stats.maxGroup = group.length;
    return group;
  }

  /**
   * Fast path: the whole group in one transaction with no savepoint. If anything fails (an effect threw, left the
   * transaction aborted, or the commit failed), nothing of it was committed, and the group runs again with a savepoint
   * per effect, which finds out exactly which calls failed.
   */
  async #runGroup(group: Pending[]): Promise<void> {
    try {
      await this.#transaction(group, false);
    } catch {
      this.#stats.fallbacks++;
      for (const p of group) {
        p.result = undefined;
        p.failed = false;
        p.error = undefined;
      }
      await this.#runGroupWithSavepoints(group);
      return;
    }
    for (const p of group) this.#settle(p);
  }

  async #runGroupWithSavepoints(group: Pending[]): Promise<void> {
    let groupErr: unknown;
    let ok = false;
    try {
      await this.#transaction(group, true);
      ok = true;
    } catch (err) {
      groupErr = err;
    }
    if (ok) {
      for (const p of group) this.#settle(p);
      return;
    }
    if (group.length === 1) {
      const p = group[0]!;
      this.#fail(p, p.failed ? p.error : groupErr);
      return;
    }
    // the transaction failed as a whole: calls whose effect threw keep their error, the others are retried alone
    for (const p of group) {
      if (p.failed) this.#fail(p, p.error);
      else {
        p.result = undefined;
        await this.#runGroupWithSavepoints([p]);
      }
    }
  }

  async #transaction(group: Pending[], savepoints: boolean): Promise<void> {
    const c = await this.#pool.connect();
    let broken = false;
    this.#stats.transactions++;
    try {
      // sorted so that concurrent groups (other consumer instances) lock inbox keys in one order
      const sorted = group.length > 1 ? [...group].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) : group;
      let inline = true;
      for (const p of sorted) if (!SAFE_CONSUMER.test(p.consumer) || !isUuid(p.event.id)) inline = false;
      const insert = `insert into ${this.#inbox} (consumer, event_id) `;
      const returning = ' on conflict do nothing returning consumer, event_id';
      let begun: Awaited<ReturnType<PgQueryable['query']>> | undefined;
      try {
        // names and ids checked above can be inlined: BEGIN and the insert then take one round trip (simple protocol)
        if (inline) begun = lastResult(await c.query(`begin; ${insert}values ${sorted.map((p) => `('${p.consumer}','${p.event.id}')`).join(',')}${returning}`));
        else await c.query('begin');
      } catch (err) {
        await c.query('rollback').catch(() => {
          broken = true;
        });
        throw err;
      }
      try {
        const r =
          begun ??
          (await c.query(`${insert}select * from unnest($1::text[], $2::uuid[])${returning}`, [sorted.map((p) => p.consumer), sorted.map((p) => p.event.id)]));
        const fresh = new Set(r.rows.map((x) => `${x.consumer as string}\u0000${x.event_id as string}`));
        if (!savepoints) {
          // no savepoint: any throw rolls the whole group back (the caller then runs it again with savepoints)
          let ran = false;
          for (const p of group) {
            if (!fresh.has(p.key)) {
              p.result = 'duplicate';
              continue;
            }
            ran = true;
            await p.effect(c);
            p.result = 'handled';
          }
          // an effect that swallowed an SQL error left the transaction aborted, where COMMIT would quietly roll back:
          // the select fails first, and the commit is then not run
          await c.query(ran ? 'select 1; commit' : 'commit');
          return;
        }
        let savepoint = false;
        for (const p of group) {
          if (!fresh.has(p.key)) {
            p.result = 'duplicate';
            continue;
          }
          // one round trip per effect: release the previous savepoint and open this one together
          await c.query(savepoint ? 'release savepoint dp_inbox; savepoint dp_inbox' : 'savepoint dp_inbox');
          savepoint = true;
          try {
            await p.effect(c);
            p.result = 'handled';
          } catch (err) {
            p.failed = true;
            p.error = err;
            await c.query('rollback to savepoint dp_inbox');
            await c.query(`delete from ${this.#inbox} where consumer = $1 and event_id = $2`, [p.consumer, p.event.id]);
          }
        }
        // releasing the last savepoint first makes a transaction an effect left aborted fail here, not commit as a rollback
        await c.query(savepoint ? 'release savepoint dp_inbox; commit' : 'commit');
      } catch (err) {
        await c.query('rollback').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      c.release(broken);
    }
  }

  #settle(p: Pending): void {
    if (p.failed) this.#fail(p, p.error);
    else if (p.result === 'handled') {
      this.#stats.handled++;
      p.resolve('handled');
    } else {
      this.#stats.duplicates++;
      p.resolve('duplicate');
    }
  }

  #fail(p: Pending, err: unknown): void {
    this.#stats.failed++;
    p.reject(err);
  }

  /** {@inheritDoc Inbox.deadLetter} */
  async deadLetter(consumer: string, event: OutboxEvent, error: string, attempts: number): Promise<void> {
    await this.#pool.query(
      `insert into ${this.#dead} (consumer, event_id, event, error, attempts) values ($1, $2, $3::jsonb, $4, $5)
       on conflict (consumer, event_id) do update set error = excluded.error, attempts = ${this.#dead}.attempts + excluded.attempts, failed_at = now(), replay_requested_at = null`,
      [consumer, event.id, JSON.stringify(event), error.slice(0, 4000), attempts],
    );
  }

  /** {@inheritDoc Inbox.listDeadLetters} */
  async listDeadLetters(consumer: string, options: { limit?: number | undefined } = {}): Promise<DeadLetter[]> {
    const r = await this.#pool.query(`select * from ${this.#dead} where consumer = $1 order by failed_at, event_id limit $2`, [consumer, options.limit ?? 100]);
    return r.rows.map(toDeadLetter);
  }

  /**
   * {@inheritDoc Inbox.listReplayRequests}
   *
   * @example
   * ```ts
   * import pg from 'pg';
   * import { PgInbox } from '@dataplane/outbox/pg';
   *
   * const inbox = new PgInbox({ pool: new pg.Pool() });
   * const requested = await inbox.listReplayRequests('billing', 100);
   * ```
   */
  async listReplayRequests(consumer: string, limit: number): Promise<DeadLetter[]> {
    const r = await this.#pool.query(`select * from ${this.#dead} where consumer = $1 and replay_requested_at is not null order by failed_at, event_id limit $2`, [consumer, limit]);
    return r.rows.map(toDeadLetter);
  }

  /**
   * {@inheritDoc Inbox.clearReplayRequest}
   *
   * @example
   * ```ts
   * import pg from 'pg';
   * import { PgInbox } from '@dataplane/outbox/pg';
   *
   * const inbox = new PgInbox({ pool: new pg.Pool() });
   * await inbox.clearReplayRequest('billing', '018f3a2e-7c41-7b8e-9d2a-3f1c5e6a7b80', 'still failing');
   * ```
   */
  async clearReplayRequest(consumer: string, eventId: string, error?: string | undefined): Promise<void> {
    if (error === undefined) await this.#pool.query(`update ${this.#dead} set replay_requested_at = null where consumer = $1 and event_id = $2`, [consumer, eventId]);
    else await this.#pool.query(`update ${this.#dead} set replay_requested_at = null, error = $3, attempts = attempts + 1 where consumer = $1 and event_id = $2`, [consumer, eventId, error.slice(0, 4000)]);
  }

  /** {@inheritDoc Inbox.removeDeadLetter} */
  async removeDeadLetter(consumer: string, eventId: string): Promise<boolean> {
    const r = await this.#pool.query(`delete from ${this.#dead} where consumer = $1 and event_id = $2`, [consumer, eventId]);
    return (r.rowCount ?? 0) > 0;
  }
}

function toDeadLetter(x: Record<string, unknown>): DeadLetter {
  return {
    consumer: x.consumer as string,
    event: validateEvent(x.event),
    error: x.error as string,
    attempts: x.attempts as number,
    failedAt: (x.failed_at as Date).toISOString(),
    replayRequestedAt: x.replay_requested_at instanceof Date ? x.replay_requested_at.toISOString() : undefined,
  };
}

function ignoreDup(err: unknown): void {
  // concurrent `create table if not exists` can race on the type's unique index
  if ((err as { code?: string }).code !== '23505') throw err;
}
