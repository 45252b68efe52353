/**
 * Each service owns its database. Embedded mode gives each one its own in-process PostgreSQL (PGlite, a WASM build
 * of PostgreSQL: same SQL, transactions, FOR UPDATE SKIP LOCKED, advisory locks); real mode gives each one its own
 * schema in the PostgreSQL at PGURL.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { PgPoolLike, PgQueryable } from '@dataplane/outbox/pg';

export interface ServiceDb extends PgPoolLike {
  /** Schema the service's tables live in. */
  readonly schema: string;
  end(): Promise<void>;
}

/**
 * A pool over one PGlite instance. PGlite is a single session, so a "connection" is exclusive access to it until
 * released: transactions from different callers never interleave.
 */
async function pglitePool(): Promise<ServiceDb> {
  const db = await PGlite.create();
  let tail: Promise<void> = Promise.resolve();
  const client: PgQueryable = {
    async query(text: string, values?: unknown[]) {
      const r = await db.query<Record<string, unknown>>(text, values as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  };
  const acquire = async () => {
    let release!: () => void;
    const previous = tail;
    tail = new Promise<void>((r) => (release = r));
    await previous;
    return release;
  };
  return {
    schema: 'public',
    async query(text, values) {
      const release = await acquire();
      try {
        return await client.query(text, values);
      } finally {
        release();
      }
    },
    async connect() {
      const release = await acquire();
      let done = false;
      return {
        query: client.query,
        release() {
          if (done) return;
          done = true;
          release();
        },
      };
    },
    async end() {
      await db.close();
    },
  };
}

/** A pg pool whose sessions use the service's own schema. */
async function pgSchemaPool(url: string, schema: string): Promise<ServiceDb> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema if not exists ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: url, max: 6, options: `-c search_path=${schema}` });
  // pg.Pool already has end(): only the schema is added
  return Object.assign(pool as unknown as PgPoolLike & { end(): Promise<void> }, { schema });
}

export function openServiceDb(mode: 'embedded' | 'real', name: string, url?: string): Promise<ServiceDb> {
  if (mode === 'embedded') return pglitePool();
  if (!url) throw new Error('real mode needs PGURL');
  return pgSchemaPool(url, `shop_${name}`);
}
