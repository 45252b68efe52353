/**
 * Each service owns its database. Embedded mode gives each one its own in-process PostgreSQL (PGlite, a WASM build
 * of PostgreSQL: same SQL, transactions, FOR UPDATE SKIP LOCKED, advisory locks); real mode gives each one its own
 * schema in the PostgreSQL at PGURL.
 */
import pg from 'pg';
import type { PgPoolLike } from '@dataplane/outbox/pg';
import { openPglitePool } from '@dataplane/outbox/pglite';

export interface ServiceDb extends PgPoolLike {
  /** Schema the service's tables live in. */
  readonly schema: string;
  end(): Promise<void>;
}

/** Embedded mode: the service's own in-process PostgreSQL (PGlite, in memory), closed by end(). */
async function pglitePool(): Promise<ServiceDb> {
  return Object.assign(await openPglitePool(), { schema: 'public' });
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
