import { OutboxError } from '../../errors.js';
import { TransactionAssembler, type CdcTransaction, type ChangeEvent, type PgOutputMessage } from '../../cdc/change-event.js';
import { formatLsn, parseLsn, type Lsn } from '../../cdc/lsn.js';
import { BoundedQueue } from './bounded-queue.js';
import { loadLogicalReplication, loadPg, type PgClientLike, type ReplicationServiceLike } from './drivers.js';

/** Options of {@link createPgChangeStream}. */
export interface PgChangeStreamOptions {
  /** A connection string of a role with the REPLICATION attribute (or superuser). */
  connectionString: string;
  /** Replication slot name: lower-case letters, digits and `_`, at most 63 characters. */
  slot: string;
  /** Publication name (same rules). */
  publication: string;
  /**
   * Tables to capture, as `schema.table` or `table` (schema `public`). When the publication is missing it is
   * created `FOR TABLE` these; when it exists, missing tables are added. When omitted, the publication must exist.
   */
  tables?: readonly string[] | undefined;
  /**
   * Emit the rows that exist when the slot is created (op `r`), read in a snapshot consistent with the slot's
   * start point, before any streamed change. Only happens when this stream creates the slot.
   * @defaultValue false
   */
  snapshot?: boolean | undefined;
  /** Rows per snapshot transaction. @defaultValue 1000 */
  snapshotBatchRows?: number | undefined;
  /**
   * What to do when the slot is missing although this stream created it before (someone dropped it, so changes
   * may have been lost): `'error'` fails with `OUTBOX_SLOT_LOST`; `'recreate'` makes a new slot (and a new
   * snapshot when `snapshot` is set).
   * @defaultValue 'error'
   */
  onSlotLost?: 'error' | 'recreate' | undefined;
  /** Schema of the small bookkeeping table `dataplane_cdc_slots`. @defaultValue 'public' */
  stateSchema?: string | undefined;
  /**
   * Wait as a standby until this process holds the slot's leadership (a PostgreSQL advisory lock held by the
   * stream's session, released when the process dies), so several relays can run and one streams at a time.
   * When false, a second reader fails fast with `OUTBOX_SLOT_BUSY`.
   * @defaultValue true
   */
  standby?: boolean | undefined;
  /** How often a standby retries for leadership. @defaultValue 500 */
  standbyPollMs?: number | undefined;
  /** Committed transactions buffered ahead of the consumer; the socket is paused beyond it. @defaultValue 256 */
  maxBufferedTransactions?: number | undefined;
  /** How often an idle stream reports its position and measures slot lag. @defaultValue 5000 */
  statusIntervalMs?: number | undefined;
  /** Aborting closes the stream. */
  signal?: AbortSignal | undefined;
}

/** A snapshot of a change stream's counters. */
export interface PgChangeStreamStats {
  state: 'idle' | 'standby' | 'snapshotting' | 'streaming' | 'closed' | 'failed';
  transactionsReceived: number;
  changesReceived: number;
  snapshotRows: number;
  buffered: number;
  /** Highest LSN acknowledged to the server. */
  ackedLsn: Lsn;
  /** End LSN of the last transaction received. */
  receivedLsn: Lsn;
  /** Bytes of WAL the slot retains (server's current LSN minus the slot's confirmed flush LSN), last measured. */
  slotLagBytes: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(kind: string, name: string): string {
  if (!IDENT.test(name)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `${kind} must match ${IDENT}: ${JSON.stringify(name)}`);
  return name;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** `schema.table` -> quoted SQL name and its parts. */
export function tableName(spec: string): { schema: string; table: string; sql: string } {
  const parts = spec.split('.');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `not a table name: ${JSON.stringify(spec)}`);
  const [schema, table] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['public', parts[0]!];
  return { schema, table, sql: `${quote(schema)}.${quote(table)}` };
}

/** Maps a server error of the replication connection to a typed error. */
function mapError(err: unknown, slot: string, publication: string): OutboxError {
  if (err instanceof OutboxError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/replication slot .* does not exist/i.test(msg)) return new OutboxError('OUTBOX_SLOT_LOST', `replication slot "${slot}" was dropped`, { cause: err });
  if (/publication .* does not exist/i.test(msg)) return new OutboxError('OUTBOX_PUBLICATION_MISSING', `publication "${publication}" does not exist`, { cause: err });
  if (/is active for PID/i.test(msg)) return new OutboxError('OUTBOX_SLOT_BUSY', `replication slot "${slot}" is in use by another reader`, { cause: err, retryable: true, retryAfterMs: 1000 });
  return new OutboxError('OUTBOX_REPLICATION_FAILED', `replication stream failed: ${msg}`, { cause: err, retryable: true, retryAfterMs: 1000 });
}

/**
 * A committed-transaction stream from a PostgreSQL logical replication slot (pgoutput), with acknowledgement
 * under the caller's control: the slot only advances past a transaction after {@link PgChangeStream.ack}.
 *
 * @remarks
 * Guarantees: transactions arrive whole and in commit order; nothing is acknowledged to the server before the
 * caller acknowledges it (pg-logical-replication's automatic keepalive acknowledgement is disabled, see
 * DESIGN.md §9), so after a crash the stream resumes at the first transaction not acknowledged: at-least-once.
 * While nothing is in flight, server keepalives are answered with the server's position so an idle slot does not
 * pin WAL. The slot serves one reader at a time; a second reader fails with `OUTBOX_SLOT_BUSY` (retryable).
 *
 * @example
 * ```ts
 * import { createPgChangeStream } from '@dataplane/outbox/pg-cdc';
 *
 * const stream = createPgChangeStream({
 *   connectionString: 'postgres://postgres@127.0.0.1:5432/test',
 *   slot: 'orders_cdc',
 *   publication: 'orders_pub',
 *   tables: ['public.orders'],
 * });
 * await stream.start();
 * for await (const tx of stream) {
 *   console.log(tx.changes.length, 'changes at', tx.commitLsn);
 *   await stream.ack(tx);
 *   break;
 * }
 * await stream.close();
 * ```
 * @since 0.1.0
 */
export class PgChangeStream implements AsyncIterable<CdcTransaction> {
  readonly #opts: Required<Omit<PgChangeStreamOptions, 'tables' | 'signal'>> & Pick<PgChangeStreamOptions, 'tables' | 'signal'>;
  readonly #queue: BoundedQueue<CdcTransaction>;
  readonly #assembler = new TransactionAssembler();
  #admin: PgClientLike | undefined;
  /** Backend pid of the walsender streaming the slot for this stream, once streaming. */
  #walsender: number | undefined;
  #service: ReplicationServiceLike | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: PgChangeStreamStats['state'] = 'idle';
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #acked = 0n;
  #received = 0n;
  #unacked = 0;
  #txs = 0;
  #changes = 0;
  #snapshotRows = 0;
  #slotLag = 0;
  #pendingSnapshotDone = false;
  readonly #pk = new Map<string, string[]>();
  readonly #onAbort = () => void this.close();

  constructor(options: PgChangeStreamOptions) {
    if (!options || typeof options.connectionString !== 'string') throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'connectionString is required');
    ident('slot', options.slot);
    ident('publication', options.publication);
    for (const t of options.tables ?? []) tableName(t);
    const max = options.maxBufferedTransactions ?? 256;
    if (!Number.isInteger(max) || max < 1) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'maxBufferedTransactions must be a positive integer');
    this.#opts = {
      connectionString: options.connectionString,
      slot: options.slot,
      publication: options.publication,
      tables: options.tables,
      snapshot: options.snapshot ?? false,
      snapshotBatchRows: options.snapshotBatchRows ?? 1000,
      onSlotLost: options.onSlotLost ?? 'error',
      stateSchema: ident('stateSchema', options.stateSchema ?? 'public'),
      maxBufferedTransactions: max,
      standby: options.standby ?? true,
      standbyPollMs: options.standbyPollMs ?? 500,
      statusIntervalMs: options.statusIntervalMs ?? 5000,
      signal: options.signal,
    };
    this.#queue = new BoundedQueue(max);
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /**
   * Ensures the publication and the slot exist, takes the initial snapshot when asked, and starts streaming.
   * Idempotent.
   *
   * @throws {@link OutboxError} `OUTBOX_PUBLICATION_MISSING`, `OUTBOX_SLOT_MISSING`, `OUTBOX_SLOT_LOST`,
   * `OUTBOX_SLOT_BUSY`, `OUTBOX_DRIVER_MISSING`.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch(async (err) => {
      const mapped = mapError(err, this.#opts.slot, this.#opts.publication);
      this.#fail(mapped);
      await this.#teardown();
      throw mapped;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#opts.signal?.aborted) throw new OutboxError('OUTBOX_ABORTED', 'aborted before start');
    const pg = await loadPg();
    const admin = new pg.Client({ connectionString: this.#opts.connectionString });
    admin.on('error', (err) => this.#fail(mapError(err, this.#opts.slot, this.#opts.publication)));
    await admin.connect();
    this.#admin = admin;
    if (this.#opts.standby) await this.#lead(admin);
    await this.#ensurePublication(admin);
    const created = await this.#ensureSlot(admin, pg.Client);
    if (!created) {
      const { rows } = await admin.query('select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [this.#opts.slot]);
      this.#acked = parseLsn(String(rows[0]?.lsn ?? '0/0'));
      this.#received = this.#acked;
    }
    await this.#stream();
    this.#timer = setInterval(() => void this.#status(), this.#opts.statusIntervalMs);
    this.#timer.unref();
  }

  /** Waits until this session holds the slot's advisory lock. */
  async #lead(admin: PgClientLike): Promise<void> {
    this.#state = 'standby';
    const key = `dataplane.cdc:${this.#opts.slot}`;
    while (true) {
      const { rows } = await admin.query('select pg_try_advisory_lock(hashtext($1)) as ok', [key]);
      if (rows[0]?.ok === true) return;
      if (this.#opts.signal?.aborted || this.#closing) throw new OutboxError('OUTBOX_ABORTED', 'closed while waiting as a standby');
      await new Promise((r) => setTimeout(r, this.#opts.standbyPollMs));
    }
  }

  async #ensurePublication(admin: PgClientLike): Promise<void> {
    const pub = this.#opts.publication;
    const tables = (this.#opts.tables ?? []).map(tableName);
    const { rows } = await admin.query('select 1 from pg_publication where pubname = $1', [pub]);
    if (rows.length === 0) {
      if (tables.length === 0) throw new OutboxError('OUTBOX_PUBLICATION_MISSING', `publication "${pub}" does not exist and no tables were given to create it`);
      try {
        await admin.query(`create publication ${quote(pub)} for table ${tables.map((t) => t.sql).join(', ')}`);
      } catch (err) {
        if (!/already exists/.test(String((err as Error).message))) throw err;
      }
      return;
    }
    if (tables.length === 0) return;
    const have = await admin.query('select schemaname, tablename from pg_publication_tables where pubname = $1', [pub]);
    const present = new Set(have.rows.map((r) => `${r.schemaname}.${r.tablename}`));
    const missing = tables.filter((t) => !present.has(`${t.schema}.${t.table}`));
    if (missing.length > 0) await admin.query(`alter publication ${quote(pub)} add table ${missing.map((t) => t.sql).join(', ')}`);
  }

  /** Returns true when this call created the slot (and took the snapshot, if asked). */
  async #ensureSlot(admin: PgClientLike, Client: new (c: Record<string, unknown>) => PgClientLike): Promise<boolean> {
    const { slot, stateSchema } = this.#opts;
    const state = `${quote(stateSchema)}.dataplane_cdc_slots`;
    await admin.query(`create table if not exists ${state} (slot text primary key, created_at timestamptz not null default now(), snapshot_done boolean not null default false)`);
    const [slots, known] = await Promise.all([
      admin.query('select active_pid from pg_replication_slots where slot_name = $1', [slot]),
      admin.query(`select snapshot_done from ${state} where slot = $1`, [slot]),
    ]);
    const exists = slots.rows.length > 0;
    const record = known.rows[0];
    if (exists && slots.rows[0]!.active_pid != null) {
      throw new OutboxError('OUTBOX_SLOT_BUSY', `replication slot "${slot}" is in use by another reader (pid ${String(slots.rows[0]!.active_pid)})`, { retryable: true, retryAfterMs: 1000 });
    }
    if (exists && (!this.#opts.snapshot || record?.snapshot_done !== false)) return false;
    if (!exists && record && this.#opts.onSlotLost === 'error') {
      throw new OutboxError('OUTBOX_SLOT_LOST', `replication slot "${slot}" was created by this stream before and has been dropped: changes may be lost; restart with onSlotLost: 'recreate' to take a new snapshot`);
    }
    // Either a new slot, a lost slot to recreate, or a snapshot that never completed: (re)create and snapshot.
    if (exists) await admin.query('select pg_drop_replication_slot($1)', [slot]);
    await admin.query(`insert into ${state} (slot, snapshot_done) values ($1, $2) on conflict (slot) do update set created_at = now(), snapshot_done = excluded.snapshot_done`, [slot, !this.#opts.snapshot]);
    const repl = new Client({ connectionString: this.#opts.connectionString, replication: 'database' });
    repl.on('error', () => {});
    await repl.connect();
    try {
      const created = await repl.query(`CREATE_REPLICATION_SLOT ${quote(slot)} LOGICAL pgoutput (SNAPSHOT '${this.#opts.snapshot ? 'export' : 'nothing'}')`);
      const row = created.rows[0]!;
      this.#acked = parseLsn(String(row.consistent_point));
      this.#received = this.#acked;
      if (this.#opts.snapshot) await this.#snapshot(Client, String(row.snapshot_name), String(row.consistent_point), repl);
    } finally {
      await repl.end().catch(() => {});
    }
    return true;
  }

  /** Reads every captured table inside the exported snapshot and queues the rows as `r` events. */
  async #snapshot(Client: new (c: Record<string, unknown>) => PgClientLike, snapshotName: string, lsn: Lsn, exporter: PgClientLike): Promise<void> {
    this.#state = 'snapshotting';
    const reader = new Client({ connectionString: this.#opts.connectionString });
    reader.on('error', () => {});
    await reader.connect();
    try {
      await reader.query('begin isolation level repeatable read read only');
      await reader.query(`set transaction snapshot '${snapshotName.replaceAll("'", "''")}'`);
      await exporter.end().catch(() => {}); // the snapshot is imported: the exporting connection may go
      const tables = (this.#opts.tables ?? []).map(tableName);
      if (tables.length === 0) {
        const { rows } = await reader.query('select schemaname, tablename from pg_publication_tables where pubname = $1', [this.#opts.publication]);
        for (const r of rows) tables.push(tableName(`${String(r.schemaname)}.${String(r.tablename)}`));
      }
      const ts = Date.now();
      let batch: ChangeEvent[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await this.#queue.put({ txid: 0, commitLsn: lsn, endLsn: lsn, commitTime: ts, changes: batch });
        batch = [];
      };
      for (const t of tables) {
        const key = await this.#lookupPrimaryKey(reader, t.sql);
        await reader.query(`declare dataplane_snap no scroll cursor for select * from ${t.sql}`);
        while (true) {
          const { rows } = await reader.query(`fetch ${this.#opts.snapshotBatchRows} from dataplane_snap`);
          for (const row of rows) {
            // each snapshot row gets its own position: they share the slot's LSN
            batch.push({ op: 'r', before: null, after: row, key, source: { lsn, txid: 0, schema: t.schema, table: t.table, ts, seq: this.#snapshotRows, snapshot: true } });
            this.#snapshotRows++;
          }
          if (batch.length >= this.#opts.snapshotBatchRows) await flush();
          if (rows.length < this.#opts.snapshotBatchRows) break;
        }
        await reader.query('close dataplane_snap');
      }
      await flush();
      // a marker transaction: acknowledging it records that the snapshot is complete
      this.#pendingSnapshotDone = true;
      await this.#queue.put({ txid: 0, commitLsn: lsn, endLsn: lsn, commitTime: ts, changes: [] });
      await reader.query('commit');
    } finally {
      await reader.end().catch(() => {});
    }
  }

  async #stream(): Promise<void> {
    const { LogicalReplicationService, PgoutputPlugin } = await loadLogicalReplication();
    // auto acknowledgement off and no keepalive timer: pg-logical-replication would otherwise confirm LSNs that
    // were received but not yet published (DESIGN.md §9).
    const service = new LogicalReplicationService({ connectionString: this.#opts.connectionString }, { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } });
    this.#service = service;
    service.on('data', async (_lsn: string, msg: unknown) => {
      const tx = this.#assembler.push(msg as PgOutputMessage);
      if (!tx) return;
      await this.#primaryKeys(tx);
      this.#txs++;
      this.#changes += tx.changes.length;
      this.#received = parseLsn(tx.endLsn);
      this.#unacked++;
      await this.#queue.put(tx).catch(() => {});
    });
    service.on('heartbeat', async (lsn: string, _ts: number, shouldRespond: boolean) => {
      await this.#keepalive(lsn, shouldRespond);
    });
    service.on('error', (err: Error) => this.#fail(mapError(err, this.#opts.slot, this.#opts.publication)));
    const started = new Promise<void>((resolve) => service.on('start', () => resolve()));
    const running = service.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.#opts.publication] }), this.#opts.slot, formatLsn(this.#acked));
    running.then(
      () => {
        if (this.#state !== 'closed') this.#fail(new OutboxError('OUTBOX_REPLICATION_FAILED', 'replication stream ended', { retryable: true, retryAfterMs: 1000 }));
      },
      (err: unknown) => this.#fail(mapError(err, this.#opts.slot, this.#opts.publication)),
    );
    await Promise.race([started, running.then(() => {})]);
    if (this.#state === 'failed') throw new OutboxError('OUTBOX_REPLICATION_FAILED', 'replication stream failed to start');
    this.#state = 'streaming';
    // the server process that now holds the slot: close() waits until it has let go
    const { rows } = await this.#admin!.query('select active_pid from pg_replication_slots where slot_name = $1', [this.#opts.slot]);
    const pid = rows[0]?.active_pid;
    this.#walsender = pid == null ? undefined : Number(pid);
  }

  /** Replaces each change's replica-identity columns with the table's primary key when it has one (cached). */
  async #primaryKeys(tx: CdcTransaction): Promise<void> {
    for (const c of tx.changes) {
      const name = `${c.source.schema}.${c.source.table}`;
      let key = this.#pk.get(name);
      if (key === undefined) {
        key = await this.#lookupPrimaryKey(this.#admin!, tableName(name).sql);
        this.#pk.set(name, key);
      }
      if (key.length > 0) c.key = key;
    }
  }

  async #lookupPrimaryKey(client: PgClientLike, table: string): Promise<string[]> {
    const { rows } = await client.query(
      `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)`,
      [table],
    );
    return rows.map((r) => String(r.attname));
  }

  /**
   * True when every message received so far has been decoded, assembled and acknowledged by the consumer. The
   * library emits keepalives synchronously but queues data messages (flow control), so its queue must be empty
   * too: a keepalive's position (the server's sent pointer) then covers nothing we still hold.
   */
  #idle(svc: ReplicationServiceLike): boolean {
    const internal = svc as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
    return (
      this.#unacked === 0 &&
      !this.#assembler.inTransaction &&
      this.#queue.size === 0 &&
      (internal._messageQueue?.length ?? 0) === 0 &&
      internal._processing !== true
    );
  }

  /** Answers a keepalive: advances to the server's position when idle, else repeats what is acknowledged. */
  async #keepalive(serverLsn: Lsn, mustRespond: boolean): Promise<void> {
    const svc = this.#service;
    if (!svc || svc.isStop()) return;
    const server = parseLsn(serverLsn);
    if (this.#idle(svc) && server > this.#acked) {
      this.#acked = server;
      this.#received = server > this.#received ? server : this.#received;
      await svc.acknowledge(formatLsn(server)).catch(() => {});
    } else if (mustRespond) {
      await svc.acknowledge(formatLsn(this.#acked)).catch(() => {});
    }
  }

  async #status(): Promise<void> {
    if (this.#state !== 'streaming') return;
    try {
      // ask the server for a keepalive: when idle, its answer advances the slot over WAL of other tables
      const svc = this.#service;
      if (svc && !svc.isStop()) await svc.acknowledge(formatLsn(this.#acked), true).catch(() => {});
      const { rows } = await this.#admin!.query(
        'select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 as lag from pg_replication_slots where slot_name = $1',
        [this.#opts.slot],
      );
      this.#slotLag = Number(rows[0]?.lag ?? 0);
    } catch {
      // status is best effort; stream errors surface through the iterator
    }
  }

  /**
   * Acknowledges a transaction (and every one before it): the slot may then release its WAL. Call it only once
   * the transaction's effects are durable downstream (published and confirmed). Out-of-order acks are ignored.
   */
  async ack(tx: CdcTransaction): Promise<void> {
    if (tx.txid === 0 && tx.changes.length === 0 && this.#pendingSnapshotDone) {
      this.#pendingSnapshotDone = false;
      await this.#admin?.query(`update ${quote(this.#opts.stateSchema)}.dataplane_cdc_slots set snapshot_done = true where slot = $1`, [this.#opts.slot]);
      return;
    }
    if (tx.txid === 0) return; // snapshot batches carry the slot's start point, which is already confirmed
    this.#unacked = Math.max(0, this.#unacked - 1);
    const end = parseLsn(tx.endLsn);
    if (end <= this.#acked) return;
    this.#acked = end;
    await this.#service?.acknowledge(tx.endLsn);
  }

  /**
   * Waits for the next committed transaction, then returns it with every other one already buffered, up to
   * `max`, so a relay can publish them in one round trip. Returns `[]` once the stream is closed.
   *
   * @throws {@link OutboxError} the stream's failure (`OUTBOX_SLOT_LOST`, `OUTBOX_REPLICATION_FAILED`, ...).
   */
  nextBatch(max = 512): Promise<CdcTransaction[]> {
    return this.#queue.takeBatch(max);
  }

  [Symbol.asyncIterator](): AsyncIterator<CdcTransaction> {
    return {
      next: () => this.#queue.take(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Measures the slot's retained WAL in bytes now. */
  async slotLagBytes(): Promise<number> {
    await this.#status();
    return this.#slotLag;
  }

  /** A plain snapshot of counters. */
  stats(): PgChangeStreamStats {
    return {
      state: this.#state,
      transactionsReceived: this.#txs,
      changesReceived: this.#changes,
      snapshotRows: this.#snapshotRows,
      buffered: this.#queue.size,
      ackedLsn: formatLsn(this.#acked),
      receivedLsn: formatLsn(this.#received),
      slotLagBytes: this.#slotLag,
    };
  }

  #fail(err: OutboxError): void {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    this.#state = 'failed';
    this.#queue.fail(err);
    void this.#teardown();
  }

  /**
   * Stops streaming and releases the slot and connections; resolves once the server has let go of the slot (at most
   * 5 s after the connection closed), so a stream started next finds it free. Idempotent. Unacknowledged transactions
   * are re-sent to the next reader.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#state !== 'failed') this.#state = 'closed';
      this.#queue.close();
      this.#opts.signal?.removeEventListener('abort', this.#onAbort);
      await this.#teardown();
    })();
    return this.#closing;
  }

  async #teardown(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const svc = this.#service;
    this.#service = undefined;
    await svc?.destroy().catch(() => {});
    const admin = this.#admin;
    this.#admin = undefined;
    const walsender = this.#walsender;
    this.#walsender = undefined;
    // The server releases the slot only when its walsender process has exited, a moment after the socket closed.
    // Waiting for that here means a stream started after close() resolved (a restart, the standby that takes the
    // advisory lock when `admin` ends) finds the slot free instead of OUTBOX_SLOT_BUSY. Bounded: 5 s.
    if (admin !== undefined && walsender !== undefined) {
      for (let i = 0; i < 500; i++) {
        const r = await admin.query('select active_pid from pg_replication_slots where slot_name = $1', [this.#opts.slot]).catch(() => undefined);
        if (r === undefined || r.rows.length === 0 || Number(r.rows[0]!.active_pid) !== walsender) break;
        await new Promise((res) => setTimeout(res, 10));
      }
    }
    await admin?.end().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a {@link PgChangeStream}. Call `start()` before iterating.
 *
 * @example
 * ```ts
 * import { createPgChangeStream } from '@dataplane/outbox/pg-cdc';
 *
 * await using stream = createPgChangeStream({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', slot: 's1', publication: 'p1', tables: ['public.customers'] });
 * await stream.start();
 * ```
 * @since 0.1.0
 */
export function createPgChangeStream(options: PgChangeStreamOptions): PgChangeStream {
  return new PgChangeStream(options);
}
