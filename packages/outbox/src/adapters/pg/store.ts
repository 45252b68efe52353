import { OutboxError } from '../../errors.js';
import { aggregateHash, createEvent, validateEvent, type NewEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { OutboxStore } from '../../store/types.js';

/** The part of a node-postgres `PoolClient`/`Client` used here (declared structurally: no `pg` import). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }>;
}
/** The part of a node-postgres `Pool` used here. */
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgQueryable & { release(err?: boolean | Error): void }>;
}

/** Options of {@link PgOutboxStore}. */
export interface PgOutboxStoreOptions {
  /** A `pg.Pool` the relay side uses (claims, cleanup, migrations). */
  pool: PgPoolLike;
  /** Schema of the outbox table. @defaultValue 'public' */
  schema?: string | undefined;
  /** Table name. @defaultValue 'dataplane_outbox' */
  table?: string | undefined;
  /** Aggregate hash partitions: the unit of relay parallelism (fixed once data exists). @defaultValue 16 */
  partitions?: number | undefined;
  /** Partitions one relay claims at once (others stay free for other relays). @defaultValue 4 */
  partitionsPerClaim?: number | undefined;
  /** Time source for `occurredAt` defaults. @defaultValue Date.now */
  clock?: (() => number) | undefined;
  /** Randomness for choosing partitions. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Transactional outbox in PostgreSQL. `append` writes in the caller's transaction; `claim` is the polling relay's
 * step: it takes transaction-scoped advisory locks on a few aggregate-hash partitions (try-lock: busy ones are
 * skipped, so several relays work side by side), reads their oldest unsent rows `FOR UPDATE SKIP LOCKED`, publishes
 * them and marks them sent in the same transaction. Since a partition is held by one relay for the whole publish, no
 * relay can publish event n+1 of an aggregate while event n is in flight or unsent.
 *
 * @remarks Per-aggregate order is append (sequence) order: producers writing the same aggregate concurrently must
 * serialise on the aggregate (its row lock), as they normally do.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PgOutboxStore } from '@dataplane/outbox/pg';
 *
 * const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
 * const outbox = new PgOutboxStore({ pool });
 * await outbox.migrate();
 * const client = await pool.connect();
 * await client.query('begin');
 * await outbox.append(client, { aggregateType: 'order', aggregateId: 'o-1', type: 'OrderPlaced', payload: { total: 5 } });
 * await client.query('commit');
 * client.release();
 * ```
 * @since 0.1.0
 */
export class PgOutboxStore implements OutboxStore<PgQueryable> {
  readonly #pool: PgPoolLike;
  readonly #t: string;
  readonly #lockKey: number;
  readonly #parts: number;
  readonly #perClaim: number;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #schema: string;

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad identifier or partition count. */
  constructor(options: PgOutboxStoreOptions) {
    const schema = options.schema ?? 'public';
    const table = options.table ?? 'dataplane_outbox';
    if (!IDENT.test(schema) || !IDENT.test(table)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'schema and table must be lower-case identifiers');
    this.#parts = options.partitions ?? 16;
    this.#perClaim = options.partitionsPerClaim ?? 4;
    if (!Number.isInteger(this.#parts) || this.#parts < 1 || this.#parts > 4096) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'partitions must be 1..4096');
    if (!Number.isInteger(this.#perClaim) || this.#perClaim < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'partitionsPerClaim must be >= 1');
    this.#pool = options.pool;
    this.#schema = schema;
    this.#t = `${schema}.${table}`;
    this.#lockKey = aggregateHash(this.#t) | 0;
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** The qualified table name. */
  get table(): string {
    return this.#t;
  }

  /** Creates schema, table and indexes if missing (idempotent, safe to run concurrently). */
  async migrate(): Promise<void> {
    const c = await this.#pool.connect();
    try {
      await c.query('select pg_advisory_lock($1, -1)', [this.#lockKey]);
      await c.query(`create schema if not exists ${this.#schema}`);
      await c.query(`create table if not exists ${this.#t} (
        seq bigserial primary key,
        id uuid not null unique,
        aggregate_type text not null,
        aggregate_id text not null,
        part int not null,
        type text not null,
        version int not null,
        payload jsonb,
        headers jsonb not null,
        occurred_at timestamptz not null,
        created_at timestamptz not null default now(),
        sent_at timestamptz)`);
      const base = this.#t.replace('.', '_');
      await c.query(`create index if not exists ${base}_unsent on ${this.#t} (part, seq) where sent_at is null`);
      await c.query(`create index if not exists ${base}_sent on ${this.#t} (sent_at) where sent_at is not null`);
    } finally {
      await c.query('select pg_advisory_unlock($1, -1)', [this.#lockKey]).catch(() => {});
      c.release();
    }
  }

  /**
   * Appends events inside the caller's open transaction (`tx` is the `PoolClient` that ran `begin`).
   *
   * @param tx - The caller's client, in a transaction.
   * @param events - One event or several; `id`, `version`, `headers`, `occurredAt` are filled when absent.
   * @returns The stored envelopes.
   * @throws OutboxError `OUTBOX_INVALID_EVENT` for a malformed event (nothing is written).
   */
  async append(tx: PgQueryable, events: NewEvent | OutboxEvent | ReadonlyArray<NewEvent | OutboxEvent>): Promise<OutboxEvent[]> {
    const list = (Array.isArray(events) ? events : [events]) as Array<NewEvent | OutboxEvent>;
    if (list.length === 0) return [];
    const out = list.map((e) => createEvent(e, this.#clock));
    const vals: unknown[] = [];
    const rows: string[] = [];
    for (const e of out) {
      const payload = JSON.stringify(e.payload);
      if (payload === undefined) throw new OutboxError('OUTBOX_INVALID_EVENT', `event ${e.id}: payload is not JSON-serialisable`);
      const b = vals.length;
      rows.push(`($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7}::jsonb,$${b + 8}::jsonb,$${b + 9})`);
      vals.push(e.id, e.aggregateType, e.aggregateId, aggregateHash(e.aggregateId) % this.#parts, e.type, e.version, payload, JSON.stringify(e.headers), e.occurredAt);
    }
    await tx.query(
      `insert into ${this.#t} (id, aggregate_type, aggregate_id, part, type, version, payload, headers, occurred_at) values ${rows.join(',')}`,
      vals,
    );
    return out;
  }

  /** {@inheritDoc OutboxSource.claim} */
  async claim(max: number, publish: (events: readonly OutboxEvent[]) => Promise<void>): Promise<number> {
    const c = await this.#pool.connect();
    let broken = false;
    try {
      const ne = await c.query(
        `select p from generate_series(0, $1::int - 1) p where exists (select 1 from ${this.#t} where sent_at is null and part = p)`,
        [this.#parts],
      );
      if (ne.rows.length === 0) return 0;
      const cand = ne.rows.map((r) => r.p as number);
      for (let i = cand.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        [cand[i], cand[j]] = [cand[j]!, cand[i]!];
      }
      await c.query('begin');
      try {
        const locked = await c.query(
          `select p from unnest($2::int[]) p where pg_try_advisory_xact_lock($1, p)`,
          [this.#lockKey, cand.slice(0, this.#perClaim)],
        );
        if (locked.rows.length === 0) {
          await c.query('rollback');
          return 0;
        }
        const r = await c.query(
          `select seq, id, aggregate_type, aggregate_id, type, version, payload, headers, occurred_at from ${this.#t}
           where sent_at is null and part = any($1::int[]) order by seq limit $2 for update skip locked`,
          [locked.rows.map((x) => x.p as number), max],
        );
        if (r.rows.length === 0) {
          await c.query('rollback');
          return 0;
        }
        const evs = r.rows.map((row) =>
          validateEvent({
            id: row.id,
            aggregateType: row.aggregate_type,
            aggregateId: row.aggregate_id,
            type: row.type,
            version: row.version,
            payload: row.payload,
            headers: row.headers,
            occurredAt: (row.occurred_at as Date).toISOString(),
          }),
        );
        await publish(evs);
        await c.query(`update ${this.#t} set sent_at = now() where seq = any($1::bigint[])`, [r.rows.map((x) => x.seq as string)]);
        await c.query('commit');
        return evs.length;
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

  /** {@inheritDoc OutboxSource.cleanup} */
  async cleanup(olderThanMs: number): Promise<number> {
    const r = await this.#pool.query(
      `delete from ${this.#t} where sent_at is not null and sent_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [olderThanMs],
    );
    return r.rowCount ?? 0;
  }

  /** Unsent events (backlog). */
  async backlog(): Promise<number> {
    const r = await this.#pool.query(`select count(*)::int n from ${this.#t} where sent_at is null`);
    return r.rows[0]!.n as number;
  }
}
