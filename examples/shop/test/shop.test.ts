/**
 * Smoke test of the shop in embedded mode (no servers): orders go through the outbox to payments exactly once,
 * customer changes reach the order service's replica, the balancer spreads calls over the replicas with the
 * zone-aware split, metrics come back from the TSDB, and the assistant answers with citations.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShop, type Shop } from '../src/shop.js';
import { runTraffic } from '../src/traffic.js';
import { CUSTOMERS } from '../src/services/customers.js';

let shop: Shop;
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const runbooks = fileURLToPath(new URL('../runbooks/', import.meta.url));

beforeAll(async () => {
  shop = await startShop({ mode: 'embedded', repoRoot, runbooks });
}, 120_000);
afterAll(async () => {
  await shop?.close();
});

const until = async (cond: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('shop (embedded)', () => {
  it('places orders that are paid exactly once, and keeps the customer replica current', async () => {
    expect(await shop.replica.count()).toBe(CUSTOMERS);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const t = await runTraffic(shop, 3, 40, random);
    expect(t.orders).toBe(120);
    await shop.changeCustomer(7, 4242, 'platinum');
    await until(async () => (await shop.replica.get({ id: 7 }))?.tier === 'platinum');
    await until(async () => {
      const s = await shop.summary();
      return s['payments in payment db'] === s['orders in order db'];
    });
    const s = await shop.summary();
    expect(Number(s['orders placed'])).toBeGreaterThan(0);
    expect(s['payments in payment db']).toBe(s['orders in order db']);
    expect(s['orders in order db']).toBe(s['orders placed']);
  }, 120_000);

  it('reads per-replica traffic back from the TSDB, mostly local to zone-a with some spill to zone-b', async () => {
    const t = await shop.dashboard.traffic();
    const byZone = (z: string) => t.replicas.filter((r) => r.zone === z).reduce((n, r) => n + r.requests, 0);
    expect(t.totalRequests).toBeGreaterThan(0);
    expect(byZone('zone-a')).toBeGreaterThan(byZone('zone-b'));
    expect(t.series.length).toBeGreaterThan(0);
    const lag = await shop.dashboard.lag();
    expect(lag.rows.map((r) => r.name)).toContain('customer replica rows');
  });

  it('answers operator questions from the runbooks with citations', async () => {
    const a = await shop.assistant.ask('How do I recover when the relay stops with OUTBOX_SLOT_LOST?');
    expect(a.sentences.length).toBeGreaterThan(0);
    for (const s of a.sentences) {
      expect(s.citations.length).toBeGreaterThan(0);
      for (const c of s.citations) expect(a.sources[c - 1]).toBeDefined();
    }
    expect(a.sources.some((s) => s.path.includes('replication-slot-lost'))).toBe(true);
  });
});
