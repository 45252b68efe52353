/**
 * Embedded PostgreSQL for `@dataplane/outbox`: `@dataplane/outbox/pglite`. A pool over one PGlite instance (PostgreSQL
 * compiled to WASM, in process, no server) that the `@dataplane/outbox/pg` store and inbox run on unchanged. This
 * module does not import `@electric-sql/pglite` statically.
 *
 * @packageDocumentation
 */
import { OutboxError } from '../../errors.js';
import type { PgPoolLike, PgQueryable } from '../pg/store.js';

/** The part of a PGlite instance used here (declared structurally: no `@electric-sql/pglite` import). */
export interface PgliteLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number | undefined }>;
  exec(text: string): Promise<Array<{ rows: unknown[]; affectedRows?: number | undefined }>>;
  close(): Promise<void>;
}

const MULTI = /;\s*\S/;

/** A {@link PgPoolLike} over one PGlite instance, with `end()`. */
export interface PglitePool extends PgPoolLike {
  /**
   * Waits for the client currently holding the session to be released, then refuses new work (`OUTBOX_CLOSED`) and
   * closes the PGlite instance if the pool owns it. Idempotent.
   */
  end(): Promise<void>;
}

/** Options of {@link createPglitePool}. */
export interface CreatePglitePoolOptions {
  /** Whether `end()` also closes the PGlite instance. @defaultValue false (the caller owns it) */
  closeOnEnd?: boolean | undefined;
}

/**
 * Wraps a PGlite instance you own as a node-postgres-like pool for `PgOutboxStore` and `PgInbox`.
 *
 * @remarks PGlite is a single session, so `connect()` hands out exclusive access until `release()` (a FIFO mutex):
 * transactions of different callers never interleave, and `pool.query` waits for a connected client to be released.
 * Consequently a caller holding a client must not call `pool.query` (it would wait for itself), and other code must not
 * run queries on the same PGlite instance directly while a client is held. `release()` twice is harmless; a query on a
 * released client throws `OUTBOX_CLOSED`. Results map PGlite's `{ rows, affectedRows }` to `{ rows, rowCount }`; as with node-postgres, text without
 * parameters may hold several statements (run with `exec`, the last statement's result is returned).
 * @param db - A PGlite instance (`await PGlite.create()`).
 * @param options - See {@link CreatePglitePoolOptions}.
 * @returns A pool; its `end()` leaves `db` open unless `closeOnEnd` is set.
 * @throws OutboxError `OUTBOX_CLOSED` from `query`/`connect` after `end()`, and from a released client's `query`.
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { PgOutboxStore } from '@dataplane/outbox/pg';
 * import { createPglitePool } from '@dataplane/outbox/pglite';
 *
 * const db = await PGlite.create();
 * const pool = createPglitePool(db);
 * const outbox = new PgOutboxStore({ pool });
 * await outbox.migrate();
 * const client = await pool.connect();
 * await client.query('begin');
 * await outbox.append(client, { aggregateType: 'order', aggregateId: 'o-1', type: 'OrderPlaced', payload: { total: 5 } });
 * await client.query('commit');
 * client.release();
 * await pool.end();
 * await db.close();
 * ```
 * @since 0.2.0
 */
export function createPglitePool(db: PgliteLike, options: CreatePglitePoolOptions = {}): PglitePool {
  const closeOnEnd = options.closeOnEnd ?? false;
  let tail: Promise<void> = Promise.resolve();
  let ended = false;
  let endPromise: Promise<void> | undefined;

  const run: PgQueryable['query'] = async (text, values) => {
    // like node-postgres: text without parameters may hold several statements (simple protocol; last result returned)
    const r = (values === undefined || values.length === 0) && MULTI.test(text) ? ((await db.exec(text)).at(-1) ?? { rows: [] }) : await db.query(text, values);
    return { rows: r.rows as Array<Record<string, unknown>>, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
  };
  const closed = (what: string) => new OutboxError('OUTBOX_CLOSED', what);
  const acquire = async (): Promise<() => void> => {
    if (ended) throw closed('the PGlite pool has ended');
    let release!: () => void;
    const previous = tail;
    tail = new Promise<void>((r) => (release = r));
    await previous;
    return release;
  };

  return {
    async query(text, values) {
      const release = await acquire();
      try {
        return await run(text, values);
      } finally {
        release();
      }
    },
    async connect() {
      const release = await acquire();
      let done = false;
      return {
        query(text: string, values?: unknown[]) {
          if (done) return Promise.reject(closed('query on a released PGlite client'));
          return run(text, values);
        },
        release() {
          if (done) return;
          done = true;
          release();
        },
      };
    },
    end() {
      endPromise ??= (async () => {
        ended = true;
        await tail;
        if (closeOnEnd) await db.close();
      })();
      return endPromise;
    },
  };
}

/**
 * Opens a PGlite database and returns a pool over it that owns it: the embedded default store, PostgreSQL semantics
 * with no server.
 *
 * @remarks Loads `@electric-sql/pglite` with a dynamic import. `end()` closes the database.
 * @param dataDir - Where PGlite keeps its files (`PGlite.create(dataDir)`, e.g. `'./data/outbox'` or
 * `'idb://outbox'`). @defaultValue in memory
 * @returns A {@link PglitePool} whose `end()` closes the PGlite instance.
 * @throws OutboxError `OUTBOX_DRIVER_MISSING` when `@electric-sql/pglite` is not installed.
 * @example
 * ```ts
 * import { Consumer, MemoryTransport, PollingRelay } from '@dataplane/outbox';
 * import { PgInbox, PgOutboxStore } from '@dataplane/outbox/pg';
 * import { openPglitePool } from '@dataplane/outbox/pglite';
 *
 * const pool = await openPglitePool();             // in memory; openPglitePool('./data') persists
 * const outbox = new PgOutboxStore({ pool });
 * await outbox.migrate();
 * const inbox = new PgInbox({ pool });
 * await inbox.migrate();
 * const transport = new MemoryTransport();
 * const relay = new PollingRelay({ store: outbox, transport });
 * const consumer = new Consumer({ name: 'billing', transport, inbox, aggregateTypes: ['order'], handler: async () => {} });
 * await consumer.start();
 * await relay.start();
 * // ...
 * await relay.close();
 * await consumer.close();
 * await pool.end();
 * ```
 * @since 0.2.0
 */
export async function openPglitePool(dataDir?: string): Promise<PglitePool> {
  let mod: { PGlite: { create(dataDir?: string): Promise<PgliteLike> } };
  try {
    mod = (await import('@electric-sql/pglite')) as unknown as typeof mod;
  } catch (err) {
    throw new OutboxError('OUTBOX_DRIVER_MISSING', '@dataplane/outbox/pglite needs PGlite: npm install @electric-sql/pglite', { cause: err });
  }
  const db = await mod.PGlite.create(dataDir);
  return createPglitePool(db, { closeOnEnd: true });
}
