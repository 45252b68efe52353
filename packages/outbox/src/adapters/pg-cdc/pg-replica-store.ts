import { OutboxError } from '../../errors.js';
import type { Row } from '../../cdc/change-event.js';
import type { ReplicaStore, ReplicaVersion, ReplicaWrite } from '../../replica/replica.js';
import { compareVersions } from '../../replica/replica.js';
import type { PgPoolLike } from '../pg/store.js';

/** Options of {@link createPgReplicaStore}. */
export interface PgReplicaStoreOptions {
  /** The consumer's own pool. Not closed by the store. */
  pool: PgPoolLike;
  /** Table holding the replica, as `schema.table` in the consumer's database (created if missing). */
  table: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const hex = (v: bigint) => v.toString(16).padStart(16, '0');

/**
 * A {@link ReplicaStore} in the consumer's own PostgreSQL: one row per source key (`key`, `row jsonb`, version,
 * tombstone flag), applied in one transaction per batch with `INSERT … ON CONFLICT DO UPDATE … WHERE` the
 * incoming version is newer, so redelivered and reordered changes are harmless.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createReplica } from '@dataplane/outbox';
 * import { createPgReplicaStore } from '@dataplane/outbox/pg-cdc';
 *
 * const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
 * const replica = createReplica({ store: createPgReplicaStore({ pool, table: 'orders_svc.customers_replica' }), table: 'public.customers' });
 * await replica.start();
 * ```
 * @since 0.1.0
 */
export function createPgReplicaStore(options: PgReplicaStoreOptions): ReplicaStore {
  const parts = String(options?.table ?? '').split('.');
  const [schema, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['public', parts[0]!];
  if (parts.length > 2 || !IDENT.test(schema) || !IDENT.test(name)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `replica table must be schema.table in lower case: ${JSON.stringify(options?.table)}`);
  const t = `"${schema}"."${name}"`;
  const meta = `"${schema}"."${name}__meta"`;
  const { pool } = options;

  return {
    async init() {
      await pool.query(`create schema if not exists "${schema}"`);
      await pool.query(`create table if not exists ${t} (key text primary key, row jsonb, lsn text not null, seq int not null, deleted boolean not null default false)`);
      await pool.query(`create table if not exists ${meta} (id int primary key default 1 check (id = 1), truncate_lsn text, truncate_seq int, pos_lsn text, pos_seq int)`);
      await pool.query(`insert into ${meta} (id) values (1) on conflict do nothing`);
    },

    async apply(writes: readonly ReplicaWrite[], truncate?: ReplicaVersion) {
      // one write per key (the newest) so a single INSERT … ON CONFLICT never touches a row twice
      const newest = new Map<string, ReplicaWrite>();
      for (const w of writes) {
        const cur = newest.get(w.key);
        if (!cur || compareVersions(w.version, cur.version) > 0) newest.set(w.key, w);
      }
      const client = await pool.connect();
      try {
        await client.query('begin');
        const m = (await client.query(`select truncate_lsn, truncate_seq, pos_lsn, pos_seq from ${meta} where id = 1 for update`)).rows[0] ?? {};
        let cut: ReplicaVersion | undefined = m.truncate_lsn ? { lsn: BigInt(`0x${String(m.truncate_lsn)}`), seq: Number(m.truncate_seq) } : undefined;
        let pos: ReplicaVersion | undefined = m.pos_lsn ? { lsn: BigInt(`0x${String(m.pos_lsn)}`), seq: Number(m.pos_seq) } : undefined;
        if (truncate && (!cut || compareVersions(truncate, cut) > 0)) {
          cut = truncate;
          await client.query(`update ${t} set row = null, deleted = true, lsn = $1, seq = $2 where (lsn, seq) <= ($1, $2)`, [hex(truncate.lsn), truncate.seq]);
        }
        const live = [...newest.values()].filter((w) => !cut || compareVersions(w.version, cut) > 0);
        if (live.length > 0) {
          await client.query(
            `insert into ${t} as cur (key, row, lsn, seq, deleted)
             select * from unnest($1::text[], $2::jsonb[], $3::text[], $4::int[], $5::boolean[])
             on conflict (key) do update set row = excluded.row, lsn = excluded.lsn, seq = excluded.seq, deleted = excluded.deleted
             where (cur.lsn, cur.seq) < (excluded.lsn, excluded.seq)`,
            [
              live.map((w) => w.key),
              live.map((w) => (w.row === null ? null : JSON.stringify(w.row))),
              live.map((w) => hex(w.version.lsn)),
              live.map((w) => w.version.seq),
              live.map((w) => w.row === null),
            ],
          );
        }
        for (const v of [truncate, ...writes.map((w) => w.version)]) if (v && (!pos || compareVersions(v, pos) > 0)) pos = v;
        await client.query(`update ${meta} set truncate_lsn = $1, truncate_seq = $2, pos_lsn = $3, pos_seq = $4 where id = 1`, [
          cut ? hex(cut.lsn) : null,
          cut?.seq ?? null,
          pos ? hex(pos.lsn) : null,
          pos?.seq ?? null,
        ]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {});
        client.release(err as Error);
        throw err;
      }
      client.release();
    },

    async get(key: string) {
      const { rows } = await pool.query(`select row from ${t} where key = $1 and not deleted`, [key]);
      return (rows[0]?.row as Row | undefined) ?? undefined;
    },

    async all() {
      const { rows } = await pool.query(`select row from ${t} where not deleted order by key`);
      return rows.map((r) => r.row as Row);
    },

    async count() {
      const { rows } = await pool.query(`select count(*)::int as n from ${t} where not deleted`);
      return Number(rows[0]?.n ?? 0);
    },

    async position() {
      const { rows } = await pool.query(`select pos_lsn, pos_seq from ${meta} where id = 1`);
      const r = rows[0];
      return r?.pos_lsn ? { lsn: BigInt(`0x${String(r.pos_lsn)}`), seq: Number(r.pos_seq) } : undefined;
    },
  };
}
