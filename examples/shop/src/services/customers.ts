/**
 * The customer service: owns the customers table, serves it over HTTP from three replicas in two zones, and
 * publishes every change. Embedded mode publishes row changes through its outbox (the same `{op, before, after,
 * source}` shape CDC produces, ordered by a change counter); real mode publishes them from the WAL with
 * `createTableCdcRelay`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatLsn, type ChangeEvent } from '@dataplane/outbox';
import { PgOutboxStore } from '@dataplane/outbox/pg';
import type { ServiceDb } from '../db.js';

export interface CustomerReplica {
  id: string;
  zone: string;
  address: string;
  /** Added service time in ms: one replica is slower, as real fleets always have one. */
  delayMs: number;
  server: Server;
}

export interface CustomerService {
  outbox: PgOutboxStore;
  replicas: CustomerReplica[];
  /** Changes a customer's credit and tier in one transaction with its change event. */
  change(id: number, credit: number, tier: string): Promise<void>;
  close(): Promise<void>;
}

export const CUSTOMERS = 200;

export async function startCustomerService(db: ServiceDb, opts: { publishChanges: boolean }): Promise<CustomerService> {
  await db.query(`create table if not exists customers (id int primary key, name text not null, zone text not null, credit int not null, tier text not null)`);
  await db.query(`create table if not exists customer_changes (id int primary key default 1, seq bigint not null)`);
  await db.query(`insert into customer_changes (id, seq) values (1, 0) on conflict do nothing`);
  const outbox = new PgOutboxStore({ pool: db, schema: db.schema, table: 'customer_outbox' });
  await outbox.migrate();

  const { rows } = await db.query('select count(*)::int as n from customers');
  if (Number(rows[0]!.n) === 0) {
    for (let i = 1; i <= CUSTOMERS; i++) {
      await insertWithEvent(db, outbox, opts.publishChanges, { id: i, name: `customer-${i}`, zone: i % 3 === 0 ? 'zone-b' : 'zone-a', credit: 1000, tier: 'standard' }, null);
    }
  }

  const replicas: CustomerReplica[] = [];
  for (const [id, zone, delayMs] of [
    ['customer-1', 'zone-a', 1],
    ['customer-2', 'zone-a', 6],
    ['customer-3', 'zone-b', 2],
  ] as const) {
    const server = createServer(async (req, res) => {
      const m = /^\/customers\/(\d+)$/.exec(req.url ?? '');
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      await new Promise((r) => setTimeout(r, delayMs));
      const r = await db.query('select id, name, credit, tier from customers where id = $1', [Number(m[1])]);
      res.writeHead(r.rows.length ? 200 : 404, { 'content-type': 'application/json', 'x-replica': id });
      res.end(JSON.stringify(r.rows[0] ?? null));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    replicas.push({ id, zone, delayMs, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server });
  }

  return {
    outbox,
    replicas,
    async change(id, credit, tier) {
      const c = await db.connect();
      try {
        await c.query('begin');
        const before = (await c.query('select * from customers where id = $1 for update', [id])).rows[0];
        if (!before) {
          await c.query('rollback');
          return;
        }
        await c.query('update customers set credit = $2, tier = $3 where id = $1', [id, credit, tier]);
        if (opts.publishChanges) await appendChange(c, outbox, db.schema, 'u', before, { ...before, credit, tier });
        await c.query('commit');
      } catch (err) {
        await c.query('rollback').catch(() => {});
        throw err;
      } finally {
        c.release();
      }
    },
    async close() {
      for (const r of replicas) {
        r.server.closeAllConnections();
        await new Promise<void>((resolve) => r.server.close(() => resolve()));
      }
    },
  };
}

async function insertWithEvent(db: ServiceDb, outbox: PgOutboxStore, publish: boolean, row: Record<string, unknown>, before: Record<string, unknown> | null) {
  const c = await db.connect();
  try {
    await c.query('begin');
    await c.query('insert into customers (id, name, zone, credit, tier) values ($1, $2, $3, $4, $5)', [row.id, row.name, row.zone, row.credit, row.tier]);
    if (publish) await appendChange(c, outbox, db.schema, 'c', before, row);
    await c.query('commit');
  } finally {
    c.release();
  }
}

/** Appends a row change in the caller's transaction, versioned by the service's change counter. */
async function appendChange(c: { query: ServiceDb['query'] }, outbox: PgOutboxStore, schema: string, op: 'c' | 'u', before: Record<string, unknown> | null, after: Record<string, unknown>) {
  const seq = (await c.query('update customer_changes set seq = seq + 1 where id = 1 returning seq')).rows[0]!.seq;
  const change: ChangeEvent = {
    op,
    before,
    after,
    key: ['id'],
    source: { lsn: formatLsn(BigInt(String(seq))), txid: Number(seq), schema, table: 'customers', ts: Date.now(), seq: 0 },
  };
  await outbox.append(c, { aggregateType: 'customers', aggregateId: String(after.id), type: `row.${op === 'c' ? 'created' : 'updated'}`, payload: change });
}
