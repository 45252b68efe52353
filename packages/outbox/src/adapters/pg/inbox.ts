import { OutboxError } from '../../errors.js';
import { validateEvent, type OutboxEvent } from '../../envelope/envelope.js';
import type { DeadLetter, Inbox } from '../../store/types.js';
import type { PgPoolLike, PgQueryable } from './store.js';

/** Options of {@link PgInbox}. */
export interface PgInboxOptions {
  /** A `pg.Pool` of the consumer's own database. */
  pool: PgPoolLike;
  /** Schema of the inbox tables. @defaultValue 'public' */
  schema?: string | undefined;
  /** Table prefix: `<prefix>_inbox`, `<prefix>_dead_letters`. @defaultValue 'dataplane' */
  prefix?: string | undefined;
}

const IDENT = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * Inbox in the consumer's PostgreSQL: `process` inserts `(consumer, event id)` and runs the effect with the same
 * client in one transaction; a second delivery hits the primary key and is skipped. Dead letters live beside it.
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

  /** @throws OutboxError `OUTBOX_INVALID_ARGUMENT` for a bad identifier. */
  constructor(options: PgInboxOptions) {
    const schema = options.schema ?? 'public';
    const prefix = options.prefix ?? 'dataplane';
    if (!IDENT.test(schema) || !IDENT.test(prefix)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'schema and prefix must be lower-case identifiers');
    this.#pool = options.pool;
    this.#schema = schema;
    this.#inbox = `${schema}.${prefix}_inbox`;
    this.#dead = `${schema}.${prefix}_dead_letters`;
  }

  /** Creates the inbox and dead-letter tables (idempotent). */
  async migrate(): Promise<void> {
    await this.#pool.query(`create schema if not exists ${this.#schema}`).catch(() => {});
    await this.#pool.query(`create table if not exists ${this.#inbox} (consumer text not null, event_id uuid not null, handled_at timestamptz not null default now(), primary key (consumer, event_id))`).catch(ignoreDup);
    await this.#pool.query(`create table if not exists ${this.#dead} (consumer text not null, event_id uuid not null, event jsonb not null, error text not null, attempts int not null, failed_at timestamptz not null default now(), primary key (consumer, event_id))`).catch(ignoreDup);
  }

  /** {@inheritDoc Inbox.process} */
  async process(consumer: string, event: OutboxEvent, effect: (ctx: PgQueryable) => Promise<void>): Promise<'handled' | 'duplicate'> {
    const c = await this.#pool.connect();
    let broken = false;
    try {
      await c.query('begin');
      try {
        const r = await c.query(`insert into ${this.#inbox} (consumer, event_id) values ($1, $2) on conflict do nothing`, [consumer, event.id]);
        if (r.rowCount === 0) {
          await c.query('rollback');
          return 'duplicate';
        }
        await effect(c);
        await c.query('commit');
        return 'handled';
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

  /** {@inheritDoc Inbox.deadLetter} */
  async deadLetter(consumer: string, event: OutboxEvent, error: string, attempts: number): Promise<void> {
    await this.#pool.query(
      `insert into ${this.#dead} (consumer, event_id, event, error, attempts) values ($1, $2, $3::jsonb, $4, $5)
       on conflict (consumer, event_id) do update set error = excluded.error, attempts = ${this.#dead}.attempts + excluded.attempts, failed_at = now()`,
      [consumer, event.id, JSON.stringify(event), error.slice(0, 4000), attempts],
    );
  }

  /** {@inheritDoc Inbox.listDeadLetters} */
  async listDeadLetters(consumer: string, options: { limit?: number | undefined } = {}): Promise<DeadLetter[]> {
    const r = await this.#pool.query(`select * from ${this.#dead} where consumer = $1 order by failed_at, event_id limit $2`, [consumer, options.limit ?? 100]);
    return r.rows.map((x) => ({
      consumer: x.consumer as string,
      event: validateEvent(x.event),
      error: x.error as string,
      attempts: x.attempts as number,
      failedAt: (x.failed_at as Date).toISOString(),
    }));
  }

  /** {@inheritDoc Inbox.removeDeadLetter} */
  async removeDeadLetter(consumer: string, eventId: string): Promise<boolean> {
    const r = await this.#pool.query(`delete from ${this.#dead} where consumer = $1 and event_id = $2`, [consumer, eventId]);
    return (r.rowCount ?? 0) > 0;
  }
}

function ignoreDup(err: unknown): void {
  // concurrent `create table if not exists` can race on the type's unique index
  if ((err as { code?: string }).code !== '23505') throw err;
}
