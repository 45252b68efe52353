import { parseArgs } from 'node:util';
import { OutboxError } from '../errors.js';
import { isUuid } from '../envelope/uuid.js';

/** @internal Where the CLI writes. */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

/** @internal */
export const DEAD_LETTERS_USAGE = `  dead-letters list   [--consumer <name>] [--limit 100] [--json]
      dead letters, oldest first
  dead-letters show   --id <event id> [--consumer <name>] [--json]
      the full event, error, attempts and time of a dead letter
  dead-letters drop   --consumer <name> (--id <event id> | --all) [--json]
      deletes dead letters; prints how many
  dead-letters replay --consumer <name> (--id <event id> | --all) [--json]
      requests a replay: the running Consumer of that name replays the letters (deadLetterReplayIntervalMs)

common options:
  --url <postgres url>   the consumer's database (default: $PGURL)
  --schema <name>        schema of the inbox tables (default: public)
  --prefix <name>        table prefix, as PgInbox's prefix (default: dataplane)
`;

const IDENT = /^[a-z_][a-z0-9_]{0,40}$/;
const CONSUMER = /^[A-Za-z0-9_-]{1,64}$/;

/** The part of a `pg.Client` used here. */
interface PgClientLike {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }>;
  end(): Promise<void>;
}

function bad(message: string): OutboxError {
  return new OutboxError('OUTBOX_INVALID_ARGUMENT', message);
}

async function connect(url: string): Promise<PgClientLike> {
  let mod: { Client?: unknown; default?: { Client?: unknown } };
  try {
    mod = (await import('pg')) as typeof mod;
  } catch (cause) {
    throw new OutboxError('OUTBOX_DRIVER_MISSING', 'dataplane-outbox needs the PostgreSQL driver "pg": npm install pg', { cause });
  }
  const Client = (mod.default?.Client ?? mod.Client) as new (config: { connectionString: string; application_name: string }) => PgClientLike;
  const client = new Client({ connectionString: url, application_name: 'dataplane-outbox' });
  try {
    await client.connect();
  } catch (cause) {
    throw new OutboxError('OUTBOX_TRANSPORT_UNAVAILABLE', `cannot connect to PostgreSQL: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retryable: true });
  }
  return client;
}

interface Row {
  consumer: string;
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  type: string;
  attempts: number;
  error: string;
  failedAt: string;
  replayRequestedAt: string | null;
  event?: unknown;
}

function toRow(x: Record<string, unknown>, full: boolean): Row {
  const event = x.event as { aggregateType?: string; aggregateId?: string; type?: string };
  const row: Row = {
    consumer: x.consumer as string,
    eventId: x.event_id as string,
    aggregateType: String(event.aggregateType),
    aggregateId: String(event.aggregateId),
    type: String(event.type),
    attempts: x.attempts as number,
    error: x.error as string,
    failedAt: (x.failed_at as Date).toISOString(),
    replayRequestedAt: x.replay_requested_at instanceof Date ? x.replay_requested_at.toISOString() : null,
  };
  if (full) row.event = x.event;
  return row;
}

/** @internal `dataplane-outbox dead-letters <sub> ...`; returns the exit code. Throws OutboxError for bad input. */
export async function deadLetters(argv: readonly string[], io: CliIo, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    io.out(DEAD_LETTERS_USAGE);
    return 0;
  }
  if (sub !== 'list' && sub !== 'show' && sub !== 'drop' && sub !== 'replay') throw bad(sub === undefined ? 'missing sub-command (list, show, drop, replay)' : `unknown sub-command "${sub}"`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        schema: { type: 'string', default: 'public' },
        prefix: { type: 'string', default: 'dataplane' },
        consumer: { type: 'string' },
        limit: { type: 'string', default: '100' },
        id: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  const url = (values.url as string | undefined) ?? env.PGURL;
  if (url === undefined || url === '') throw bad('missing --url (or $PGURL)');
  const schema = values.schema as string;
  const prefix = values.prefix as string;
  if (!IDENT.test(schema) || !IDENT.test(prefix)) throw bad('--schema and --prefix must be lower-case identifiers');
  const consumer = values.consumer as string | undefined;
  if (consumer !== undefined && !CONSUMER.test(consumer)) throw bad('--consumer must match [A-Za-z0-9_-]{1,64}');
  const id = values.id as string | undefined;
  if (id !== undefined && !isUuid(id)) throw bad(`--id must be an event id (a UUID), got "${id}"`);
  const all = values.all === true;
  const json = values.json === true;
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw bad('--limit must be an integer 1..100000');
  if (sub === 'list' && (id !== undefined || all)) throw bad('list takes no --id or --all');
  if (sub === 'show' && id === undefined) throw bad('show needs --id');
  if (sub === 'show' && all) throw bad('show takes no --all');
  if (sub === 'drop' || sub === 'replay') {
    if (consumer === undefined) throw bad(`${sub} needs --consumer`);
    if ((id === undefined) === !all) throw bad(`${sub} needs exactly one of --id and --all`);
  }

  const table = `${schema}.${prefix}_dead_letters`;
  const client = await connect(url);
  try {
    return await run();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01') throw new OutboxError('OUTBOX_SCHEMA_MISMATCH', `no table ${table}: check --schema and --prefix`, { cause: err });
    if (code === '42703') throw new OutboxError('OUTBOX_SCHEMA_MISMATCH', `${table} has no replay_requested_at column yet: start the consumer with this version (PgInbox.migrate adds it)`, { cause: err });
    throw err;
  } finally {
    await client.end().catch(() => {});
  }

  async function run(): Promise<number> {
    // consumer and id go in as parameters; a null one matches every row
    const where = `($1::text is null or consumer = $1) and ($2::uuid is null or event_id = $2)`;
    const params = [consumer ?? null, id ?? null];
    if (sub === 'list') {
      const r = await client.query(`select * from ${table} where ${where} order by failed_at, event_id limit $3`, [...params, limit]);
      const rows = r.rows.map((x) => toRow(x, false));
      if (json) io.out(`${JSON.stringify(rows)}\n`);
      else if (rows.length === 0) io.out('no dead letters\n');
      else {
        for (const x of rows) {
          const requested = x.replayRequestedAt === null ? '' : '  [replay requested]';
          io.out(`${x.eventId}  ${x.consumer}  ${x.aggregateType}/${x.aggregateId}  ${x.type}  attempts=${x.attempts}  ${x.failedAt}${requested}\n    ${x.error.split('\n')[0]!.slice(0, 200)}\n`);
        }
      }
      return 0;
    }
    if (sub === 'show') {
      const r = await client.query(`select * from ${table} where ${where} order by consumer`, params);
      const rows = r.rows.map((x) => toRow(x, true));
      if (rows.length === 0) {
        io.err(`dataplane-outbox dead-letters show: no dead letter with id ${id}${consumer === undefined ? '' : ` for consumer ${consumer}`}\n`);
        return 1;
      }
      if (json) io.out(`${JSON.stringify(rows)}\n`);
      else for (const x of rows) io.out(`${JSON.stringify(x, null, 2)}\n`);
      return 0;
    }
    if (sub === 'drop') {
      const r = await client.query(`delete from ${table} where ${where}`, params);
      const n = r.rowCount ?? 0;
      io.out(json ? `${JSON.stringify({ dropped: n })}\n` : `dropped ${n} dead letter${n === 1 ? '' : 's'}\n`);
      return id !== undefined && n === 0 ? 1 : 0;
    }
    const r = await client.query(`update ${table} set replay_requested_at = now() where ${where}`, params);
    const n = r.rowCount ?? 0;
    io.out(json ? `${JSON.stringify({ requested: n })}\n` : `requested the replay of ${n} dead letter${n === 1 ? '' : 's'} (the running consumer ${consumer} replays them)\n`);
    return id !== undefined && n === 0 ? 1 : 0;
  }
}
