/**
 * The shop: customer, order and payment services, each with its own database, wired with all four packages.
 *
 * - order service: places orders and their `OrderPlaced` events in one transaction (transactional outbox); reads
 *   customers from its own replicated read model (fed by the customer service's change events); calls the three
 *   customer replicas in two zones per request through @dataplane/balancer (P2C, zone-aware, caller in zone-a).
 * - payment service: consumes `OrderPlaced` through an idempotent inbox in its own database.
 * - customer service: owns customers; publishes row changes (embedded: through its outbox; real: from the WAL).
 * - every service's metrics go into @dataplane/lsm; an operator assistant answers over the docs with @dataplane/rag.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { createEndpointSet, outlierAware, p2c, zoneAware, type EndpointSet } from '@dataplane/balancer';
import { createBalancedDispatcher, type BalancedDispatcher } from '@dataplane/balancer/undici';
import { Consumer, MemoryTransport, PollingRelay, createReplica, type ChangeEvent, type Replica, type Transport } from '@dataplane/outbox';
import { PgInbox, PgOutboxStore, type PgQueryable } from '@dataplane/outbox/pg';
import { createPgReplicaStore, createTableCdcRelay } from '@dataplane/outbox/pg-cdc';
import { RedisStreamsTransport } from '@dataplane/outbox/redis';
import { createAssistant, type Assistant } from './assistant.js';
import type { DashboardSource } from './dashboard/server.js';
import { openServiceDb } from './db.js';
import { openMetrics, type Metrics } from './metrics.js';
import { CUSTOMERS, startCustomerService, type CustomerService } from './services/customers.js';

export interface ShopOptions {
  mode: 'embedded' | 'real';
  repoRoot: string;
  runbooks: string;
  pgUrl?: string | undefined;
  redisUrl?: string | undefined;
}

export interface OrderResult {
  status: 'placed' | 'rejected' | 'failed';
  replica?: string | undefined;
  latencyMs: number;
}

export interface Shop {
  placeOrder(customerId: number, amount: number): Promise<OrderResult>;
  changeCustomer(id: number, credit: number, tier: string): Promise<void>;
  dashboard: DashboardSource;
  summary(): Promise<Record<string, number | string>>;
  /** Samples gauges (outbox pending, consumer lag, replica lag) into the TSDB. */
  sample(): Promise<void>;
  metrics: Metrics;
  assistant: Assistant;
  replica: Replica;
  customers: CustomerService;
  set: EndpointSet;
  startedAt: number;
  close(): Promise<void>;
}

export async function startShop(opts: ShopOptions): Promise<Shop> {
  const startedAt = Date.now();
  const closers: (() => Promise<void>)[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'dataplane-shop-'));
  closers.push(() => rm(dataDir, { recursive: true, force: true }));
  const metrics = await openMetrics(join(dataDir, 'tsdb'));
  closers.push(() => metrics.close());

  // one database per service
  const customerDb = await openServiceDb(opts.mode, 'customers', opts.pgUrl);
  const orderDb = await openServiceDb(opts.mode, 'orders', opts.pgUrl);
  const paymentDb = await openServiceDb(opts.mode, 'payments', opts.pgUrl);
  closers.push(() => customerDb.end(), () => orderDb.end(), () => paymentDb.end());

  // the transport between services
  let transport: Transport;
  if (opts.mode === 'embedded') transport = new MemoryTransport({ retryMs: 50 });
  else {
    if (!opts.redisUrl) throw new Error('real mode needs REDIS_URL');
    transport = new RedisStreamsTransport({ client: new Redis(opts.redisUrl, { maxRetriesPerRequest: null }), prefix: `shop:${startedAt}`, blockMs: 200 });
  }
  closers.push(() => transport.close());

  // customer service: embedded mode publishes changes through its outbox; real mode from the WAL (CDC)
  const customers = await startCustomerService(customerDb, { publishChanges: opts.mode === 'embedded' });
  closers.push(() => customers.close());
  // order service: replica of customers in its own database, fed from the change events (idempotent by version)
  const replica = createReplica({ store: createPgReplicaStore({ pool: orderDb, table: `${orderDb.schema}.customers_replica` }), table: `${customerDb.schema}.customers`, key: ['id'] });
  await replica.start();
  const replicaSub = await transport.subscribe({ group: 'orders-customer-replica', aggregateTypes: ['customers'] }, async (event) => {
    await replica.apply([event.payload as ChangeEvent]);
  });
  closers.push(() => replicaSub.close());

  // publish customer changes only once the replica's subscription exists (a new group starts at the tail)
  if (opts.mode === 'embedded') {
    const relay = new PollingRelay({ store: customers.outbox, transport, pollIntervalMs: 20, batchSize: 500 });
    await relay.start();
    closers.push(() => relay.close());
  } else {
    const cdc = createTableCdcRelay({ connectionString: opts.pgUrl!, tables: [`${customerDb.schema}.customers`], snapshot: true, transport, slot: `shop_${startedAt}`, publication: `shop_${startedAt}` });
    await cdc.start();
    closers.push(async () => {
      await cdc.close();
      const admin = new (await import('pg')).default.Client({ connectionString: opts.pgUrl });
      await admin.connect();
      await admin.query('select pg_drop_replication_slot($1)', [`shop_${startedAt}`]).catch(() => {});
      await admin.query(`drop publication if exists shop_${startedAt}`).catch(() => {});
      await admin.end();
    });
  }

  await orderDb.query('create table if not exists orders (id bigserial primary key, customer_id int not null, amount int not null, created_at timestamptz not null default now())');
  const orderOutbox = new PgOutboxStore({ pool: orderDb, schema: orderDb.schema, table: 'order_outbox' });
  await orderOutbox.migrate();
  const orderRelay = new PollingRelay({ store: orderOutbox, transport, pollIntervalMs: 20, batchSize: 500 });
  await orderRelay.start();
  closers.push(() => orderRelay.close());

  // per-request balancing over the customer replicas: P2C, zone-aware (caller in zone-a), outlier ejection
  const set = createEndpointSet();
  set.replaceAll(customers.replicas.map((r) => ({ id: r.id, address: r.address, zone: r.zone })));
  const dispatcher: BalancedDispatcher = await createBalancedDispatcher({
    set,
    // 80% of order-service callers run in zone-a, which holds 2/3 of the customer capacity: Envoy's algorithm keeps
    // most traffic local and spills the rest to zone-b
    picker: outlierAware(zoneAware(p2c(), { localZone: 'zone-a', callerZoneShares: { 'zone-a': 0.8, 'zone-b': 0.2 }, minClusterSize: 1 })),
  });
  closers.push(() => dispatcher.close());

  // payment service: consumes OrderPlaced through its inbox
  await paymentDb.query('create table if not exists payments (order_id bigint primary key, amount int not null, paid_at timestamptz not null default now())');
  const inbox = new PgInbox({ pool: paymentDb, schema: paymentDb.schema });
  await inbox.migrate();
  const payments = new Consumer<PgQueryable>({
    name: 'payments',
    transport,
    inbox,
    aggregateTypes: ['order'],
    handler: async (event, tx) => {
      const p = event.payload as { orderId: number; amount: number };
      await tx.query('insert into payments (order_id, amount) values ($1, $2)', [p.orderId, p.amount]);
    },
  });
  await payments.start();
  closers.push(() => payments.close());

  const assistant = await createAssistant(opts.repoRoot, opts.runbooks);
  closers.push(() => assistant.close());

  const counts = { placed: 0, rejected: 0, failed: 0, unknownCustomer: 0 };

  const shop: Shop = {
    metrics,
    assistant,
    replica,
    customers,
    set,
    startedAt,
    async placeOrder(customerId, amount) {
      const t0 = performance.now();
      const customer = await replica.get({ id: customerId });
      if (!customer) {
        counts.unknownCustomer++;
        return { status: 'failed', latencyMs: 0 };
      }
      let replicaId: string | undefined;
      try {
        const res = await request(`http://customers/customers/${customerId}`, { dispatcher });
        replicaId = String(res.headers['x-replica'] ?? '?');
        const fresh = (await res.body.json()) as { credit: number } | null;
        const ms = performance.now() - t0;
        const zone = customers.replicas.find((r) => r.id === replicaId)?.zone ?? '?';
        metrics.record('shop.request.latency_ms', { replica: replicaId, zone }, ms);
        if (!fresh || fresh.credit < amount) {
          counts.rejected++;
          return { status: 'rejected', replica: replicaId, latencyMs: ms };
        }
      } catch {
        counts.failed++;
        return { status: 'failed', latencyMs: performance.now() - t0 };
      }
      const c = await orderDb.connect();
      try {
        await c.query('begin');
        const { rows } = await c.query('insert into orders (customer_id, amount) values ($1, $2) returning id', [customerId, amount]);
        const orderId = Number(rows[0]!.id);
        await orderOutbox.append(c, { aggregateType: 'order', aggregateId: String(orderId), type: 'OrderPlaced', payload: { orderId, customerId, amount } });
        await c.query('commit');
      } catch (err) {
        await c.query('rollback').catch(() => {});
        throw err;
      } finally {
        c.release();
      }
      counts.placed++;
      return { status: 'placed', replica: replicaId, latencyMs: performance.now() - t0 };
    },
    changeCustomer: (id, credit, tier) => customers.change(id, credit, tier),
    async sample() {
      const now = Date.now();
      const pending = Number((await orderDb.query('select count(*)::int as n from order_outbox where sent_at is null')).rows[0]!.n);
      const orders = Number((await orderDb.query('select count(*)::int as n from orders')).rows[0]!.n);
      const paid = Number((await paymentDb.query('select count(*)::int as n from payments')).rows[0]!.n);
      metrics.record('shop.gauge', { name: 'order outbox pending' }, pending, now);
      metrics.record('shop.gauge', { name: 'payment consumer lag (orders not yet paid)' }, Math.max(0, orders - paid), now);
      metrics.record('shop.gauge', { name: 'customer replica lag (ms)' }, replica.stats().lagMs, now);
      metrics.record('shop.gauge', { name: 'customer replica rows' }, await replica.count(), now);
    },
    dashboard: {
      async traffic() {
        const t = await metrics.traffic(startedAt);
        const total = t.replicas.reduce((s, r) => s + r.requests, 0);
        return { totalRequests: total, replicas: t.replicas.map((r) => ({ ...r, share: total ? r.requests / total : 0 })), series: t.series };
      },
      async lag() {
        const rows = await metrics.last('shop.gauge', startedAt);
        return { rows: rows.map((r) => ({ name: r.tags.name ?? '?', value: String(Math.round(r.value)) })).sort((a, b) => a.name.localeCompare(b.name)) };
      },
      async ask(question) {
        const a = await assistant.ask(question);
        return { sentences: a.sentences, sources: a.sources.map((s) => ({ title: s.title })) };
      },
    },
    async summary() {
      await metrics.flush();
      const orders = Number((await orderDb.query('select count(*)::int as n from orders')).rows[0]!.n);
      const paid = Number((await paymentDb.query('select count(*)::int as n from payments')).rows[0]!.n);
      const t = await shop.dashboard.traffic();
      const out: Record<string, number | string> = {
        mode: opts.mode,
        'orders placed': counts.placed,
        'orders rejected (credit)': counts.rejected,
        'calls failed': counts.failed,
        'orders in order db': orders,
        'payments in payment db': paid,
        'payment duplicates absorbed': payments.stats().duplicates,
        'customer replica rows': await replica.count(),
        'customer replica lag ms': replica.stats().lagMs,
      };
      for (const r of t.replicas) out[`share ${r.id} (${r.zone})`] = `${(100 * r.share).toFixed(1)}% of ${t.totalRequests}`;
      return out;
    },
    async close() {
      for (const c of closers.reverse()) await c().catch(() => {});
    },
  };
  // wait until the replica has every customer before serving
  const deadline = Date.now() + 30_000;
  while ((await replica.count()) < CUSTOMERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return shop;
}
