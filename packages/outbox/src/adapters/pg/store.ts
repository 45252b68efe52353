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
  /**
   * What a claim does with the rows it published: `'mark'` sets `sent_at` (rows stay for `cleanup` to delete after the
   * relay's `retentionMs`, so recently sent events can still be inspected), `'delete'` deletes them in the same
   * transaction (no second row version, no index entries for it, nothing left for cleanup: less PostgreSQL work per
   * event). Either way a row leaves the unsent set only once its batch was published.
   * @defaultValue 'mark'
   */
  onSent?: 'mark' | 'delete' | undefined;
  /** Time source for `occurredAt` defaults. @defaultValue Date.now */
  clock?: (() => number) | undefined;
  /** Randomness for choosing partitions. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const DIGITS = /^[0-9]{1,20}$/;
/** A row's `ctid` as PostgreSQL prints it: `(block,offset)`. */
const TID = /^\([0-9]{1,10},[0-9]{1,5}\)$/;

/** node-postgres answers a multi-statement text with one result per statement; other drivers with the last one. @internal */
export function lastResult(r: Awaited<ReturnType<PgQueryable['query']>>): Awaited<ReturnType<PgQueryable['query']>> {
  return Array.isArray(r) ? (r[r.length - 1] as Awaited<ReturnType<PgQueryable['query']>>) : r;
}

/**
 * Transactional outbox in PostgreSQL. `append` writes in the caller's transaction; `claim` is the polling relay's
 * step: it takes transaction-scoped advisory locks on a few aggregate-hash partitions (try-lock: busy ones are
 * skipped, so several relays work side by side), then reads their oldest unsent rows with a snapshot taken after the
 * locks were granted, publishes them and marks them sent in the same transaction. Since a partition is held by one
 * relay for the whole publish, no relay can publish event n+1 of an aggregate while event n is in flight or unsent,
 * and no relay reads a row another relay has already marked sent.
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
  readonly #onSent: 'mark' | 'delete';
  /** Partition numbers, shuffled in place before each claim. */
  readonly #order: number[];
  /** The last claim found nothing: check cheaply for unsent rows before opening a transaction. */
  #idle = true;

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
    this.#onSent = options.onSent ?? 'mark';
    if (this.#onSent !== 'mark' && this.#onSent !== 'delete') throw new OutboxError('OUTBOX_INVALID_ARGUMENT', "onSent must be 'mark' or 'delete'");
    this.#order = Array.from({ length: this.#parts }, (_, i) => i);
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
    // one row per array element: the statement text (and its plan) is the same whatever the batch size
    const n = out.length;
    const ids = new Array<string>(n);
    const types = new Array<string>(n);
    const aggIds = new Array<string>(n);
    const parts = new Array<number>(n);
    const evTypes = new Array<string>(n);
    const versions = new Array<number>(n);
    const payloads = new Array<string>(n);
    const headers = new Array<string>(n);
    const occurred = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const e = out[i]!;
      const payload = JSON.stringify(e.payload);
      if (payload === undefined) throw new OutboxError('OUTBOX_INVALID_EVENT', `event ${e.id}: payload is not JSON-serialisable`);
      ids[i] = e.id;
      types[i] = e.aggregateType;
      aggIds[i] = e.aggregateId;
      parts[i] = aggregateHash(e.aggregateId) % this.#parts;
      evTypes[i] = e.type;
      versions[i] = e.version;
      payloads[i] = payload;
      headers[i] = JSON.stringify(e.headers);
      occurred[i] = e.occurredAt;
    }
    await tx.query(
      n === 1
        ? `insert into ${this.#t} (id, aggregate_type, aggregate_id, part, type, version, payload, headers, occurred_at) values ($1::text::uuid, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9::text::timestamptz)`
        : `insert into ${this.#t} (id, aggregate_type, aggregate_id, part, type, version, payload, headers, occurred_at)
           select i::uuid, a, g, p, t, v, pl::jsonb, h::jsonb, o::timestamptz
           from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[]) as u(i, a, g, p, t, v, pl, h, o)`,
      n === 1
        ? [ids[0], types[0], aggIds[0], parts[0], evTypes[0], versions[0], payloads[0], headers[0], occurred[0]]
        : [ids, types, aggIds, parts, evTypes, versions, payloads, headers, occurred],
    );
    return out;
  }

  /**
   * {@inheritDoc OutboxSource.claim}
   *
   * Two round trips for a batch: `begin` (READ COMMITTED) with a statement that picks the partitions with unsent rows
   * in a random order and try-locks the first `partitionsPerClaim` of them that no other relay holds, and a second
   * statement, with its own snapshot taken after the locks, that reads the batch `FOR UPDATE SKIP LOCKED` (the
   * partition locks already keep other relays off these rows; the row locks keep other writers off them); then, after `publish` resolved, the `UPDATE ... sent_at` (or `DELETE`) of the
   * batch and `COMMIT` sent together. After an empty claim the next one first checks, outside any transaction, that
   * an unsent row exists (one round trip while idle).
   *
   * The batch holds up to `max` events and is, for each locked partition, a run of its oldest unsent events: each of
   * the k locked partitions gives at most ceil(max / k) (all of `max` when it is the only partition with unsent
   * events).
   */
  async claim(max: number, publish: (events: readonly OutboxEvent[]) => Promise<void>): Promise<number> {
    if (this.#idle) {
      const any = await this.#pool.query(`select exists (select 1 from ${this.#t} where sent_at is null) as x`);
      if (any.rows[0]?.x !== true) return 0;
    }
    if (!Number.isInteger(max) || max < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'max must be a positive integer');
    const order = this.#order;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const c = await this.#pool.connect();
    let broken = false;
    try {
      // every value is an integer: the statements go inline, in one round trip with BEGIN (simple query protocol).
      // First statement: per partition, index probes only (LIMIT inside LATERAL keeps the planner from scanning the
      // whole backlog): does it have an unsent row; try-lock the first `partitionsPerClaim` of those (transaction-scoped
      // advisory locks) and note which in a transaction-local setting.
      // Second statement, with a snapshot taken after those locks were granted: the batch. A relay that held one of
      // the partitions before has committed or rolled back by then (its locks go at the end of its transaction), so
      // its marks are visible and no sent row is read again. The rows are still read FOR UPDATE SKIP LOCKED: no relay
      // marks rows of a partition it does not hold, so between relays the row locks are redundant, but they pin each
      // row (and its ctid, by which the batch is marked) against any other writer of the outbox, such as an
      // operator's UPDATE, while its batch is published; they cost about one WAL record per event. READ COMMITTED is explicit because the second statement needs
      // its own snapshot whatever default_transaction_isolation says.
      // The batch is a prefix (in seq order) of each locked partition's unsent rows, which is what keeps per-aggregate
      // order: the oldest ceil(max / k) of each of the k partitions, read with their columns in one index scan each.
      // With a backlog in every partition this reads `max` rows, not k × max as taking the oldest `max` of each
      // partition did; a lone partition with unsent rows (k = 1) still fills the batch. Kept this plain on purpose:
      // both statements are parsed and planned on every claim, and that is most of a small claim's cost.
      const cols = 'ctid, seq, part, id, aggregate_type, aggregate_id, type, version, payload, headers, occurred_at';
      const sql = `begin isolation level read committed;
           with cand as materialized (
             select u.p from unnest('{${order.join(',')}}'::int[]) with ordinality as u(p, o)
             cross join lateral (select 1 from ${this.#t} where sent_at is null and part = u.p limit 1) x
             order by u.o),
           locked as materialized (select p from cand where pg_try_advisory_xact_lock(${this.#lockKey}, p) limit ${this.#perClaim})
           select set_config('dataplane.outbox_claim', coalesce(string_agg(p::text, ','), ''), true),
             set_config('dataplane.outbox_claim_n', ((${max} + count(*) - 1) / greatest(count(*), 1))::text, true) from locked;
           select ${cols} from unnest(string_to_array(current_setting('dataplane.outbox_claim'), ',')::int[]) as l(p)
             cross join lateral (select ${cols} from ${this.#t} where sent_at is null and part = l.p order by seq limit current_setting('dataplane.outbox_claim_n')::int for update skip locked) r
             order by seq limit ${max}`;
      const begun = await c.query(sql).catch(async (err: unknown) => {
        await c.query('rollback').catch(() => {
          broken = true;
        });
        throw err;
      });
      try {
        const r = lastResult(begun);
        if (r.rows.length === 0) {
          await c.query('rollback');
          this.#idle = true;
          return 0;
        }
        this.#idle = false;
        const n = r.rows.length;
        const evs = new Array<OutboxEvent>(n);
        const seqs = new Array<string>(n);
        const tids = new Array<string>(n);
        let literal = true;
        for (let i = 0; i < n; i++) {
          const row = r.rows[i]!;
          evs[i] = validateEvent({
            id: row.id,
            aggregateType: row.aggregate_type,
            aggregateId: row.aggregate_id,
            type: row.type,
            version: row.version,
            payload: row.payload,
            headers: row.headers,
            occurredAt: (row.occurred_at as Date).toISOString(),
          });
          const seq = String(row.seq);
          const tid = String(row.ctid);
          if (!DIGITS.test(seq) || !TID.test(tid)) literal = false;
          seqs[i] = seq;
          tids[i] = tid;
        }
        await publish(evs);
        // the rows are found by ctid (a TID scan, whatever the planner knows about the table: by `seq = any(...)` a
        // table never analysed was read whole for every batch) and checked by seq. No other relay touches them while
        // this transaction holds their partitions, and nothing moves a row this transaction has read, so the ctids
        // are still theirs.
        if (literal) {
          // digits only, so the lists can be inlined: mark and commit in one round trip (COMMIT does not run if the UPDATE fails)
          await c.query(`${this.#markSql}'{"${tids.join('","')}"}'::tid[]) and seq = any('{${seqs.join(',')}}'::bigint[]); commit`);
        } else {
          await c.query(`${this.#markSql}$1::tid[]) and seq = any($2::bigint[])`, [tids, seqs]);
          await c.query('commit');
        }
        return n;
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

  /** The start of the statement that takes a published batch out of the unsent set (`onSent`). */
  get #markSql(): string {
    return this.#onSent === 'delete' ? `delete from ${this.#t} where ctid = any(` : `update ${this.#t} set sent_at = now() where ctid = any(`;
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
