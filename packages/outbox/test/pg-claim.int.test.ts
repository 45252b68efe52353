/**
 * PgOutboxStore.claim under contention, against the machine's PostgreSQL: claimers that keep losing and winning the
 * same partition never read a row another claimer already marked sent (each event is published once), and publish
 * every aggregate's events in append order; also with a pool whose default isolation is REPEATABLE READ.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxEvent } from '@dataplane/outbox';
import { PgOutboxStore } from '@dataplane/outbox/pg';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `outbox_claim_${randomBytes(4).toString('hex')}`;
const pools: pg.Pool[] = [];

afterAll(async () => {
  await pools[0]?.query(`drop schema if exists ${schema} cascade`);
  await Promise.all(pools.map((p) => p.end()));
});

async function contend(table: string, options: string | undefined, onSent: 'mark' | 'delete'): Promise<void> {
  const pool = new pg.Pool({ connectionString: PGURL, max: 8, ...(options === undefined ? {} : { options }) });
  pools.push(pool);
  // one partition: every claim competes for the same advisory lock, so claims keep starting while another commits
  const store = new PgOutboxStore({ pool, schema, table, partitions: 1, partitionsPerClaim: 1, onSent });
  await store.migrate();
  const A = 10;
  const N = 150;
  const log: OutboxEvent[] = [];
  let appended = 0;
  let producing = true;
  const producer = (async () => {
    for (let n = 0; n < N; n += 5) {
      const c = await pool.connect();
      await c.query('begin');
      await store.append(c, Array.from({ length: 5 * A }, (_, i) => ({ aggregateType: 'acct', aggregateId: `a${i % A}`, type: 'Step', payload: { n: n + Math.floor(i / A) } })));
      await c.query('commit');
      c.release();
      appended += 5 * A;
    }
    producing = false;
  })();
  const claimers = Array.from({ length: 4 }, async () => {
    while (producing || (await store.backlog()) > 0) {
      await store.claim(7, async (evs) => {
        log.push(...evs);
        await new Promise((r) => setImmediate(r));
      });
    }
  });
  await producer;
  await Promise.all(claimers);
  expect(appended).toBe(A * N);
  const ids = new Set(log.map((e) => e.id));
  expect(ids.size).toBe(log.length); // nothing published twice
  expect(log.length).toBe(A * N);
  for (let a = 0; a < A; a++) {
    const ns = log.filter((e) => e.aggregateId === `a${a}`).map((e) => (e.payload as { n: number }).n);
    expect(ns).toEqual(Array.from({ length: N }, (_, i) => i));
  }
  expect(await store.backlog()).toBe(0);
}

describe('PgOutboxStore.claim under contention', () => {
  it('publishes each event once, in append order per aggregate (mark)', async () => {
    await contend('ob_mark', undefined, 'mark');
  });

  it('publishes each event once, in append order per aggregate (delete)', async () => {
    await contend('ob_delete', undefined, 'delete');
  });

  it('takes a share of each locked partition, and full batches once one partition is left', async () => {
    const pool = new pg.Pool({ connectionString: PGURL, max: 4 });
    pools.push(pool);
    const store = new PgOutboxStore({ pool, schema, table: 'ob_share', partitions: 8, partitionsPerClaim: 8 });
    await store.migrate();
    // one claimer locks every partition with unsent rows; one hot aggregate (one partition) and a few cold ones
    const evs = [
      ...Array.from({ length: 60 }, (_, n) => ({ aggregateId: 'hot', n })),
      ...Array.from({ length: 12 }, (_, i) => ({ aggregateId: `cold${i}`, n: 0 })),
    ];
    const c = await pool.connect();
    await c.query('begin');
    await store.append(c, evs.map((e) => ({ aggregateType: 'acct', aggregateId: e.aggregateId, type: 'Step', payload: { n: e.n } })));
    await c.query('commit');
    c.release();
    const max = 16;
    const log: OutboxEvent[] = [];
    let left = evs.length;
    while (left > 0) {
      const before = log.length;
      // the partitions with unsent rows, as the claim will find them (none other is touched between claims)
      const parts = (await pool.query(`select count(distinct part)::int k from ${schema}.ob_share where sent_at is null`)).rows[0]!.k as number;
      const n = await store.claim(max, async (batch) => void log.push(...batch));
      const batch = log.slice(before);
      expect(n).toBe(batch.length);
      expect(n).toBeGreaterThan(0);
      // no partition gives more than its share; a lone partition fills the batch
      const share = Math.ceil(max / parts);
      expect(batch.filter((e) => e.aggregateId === 'hot').length).toBeLessThanOrEqual(share);
      if (parts === 1) expect(n).toBe(Math.min(max, left));
      left -= n;
    }
    expect(await store.claim(max, async () => {})).toBe(0);
    expect(new Set(log.map((e) => e.id)).size).toBe(evs.length);
    expect(log.filter((e) => e.aggregateId === 'hot').map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('keeps that when the pool defaults to REPEATABLE READ', async () => {
    await contend('ob_rr', '-c default_transaction_isolation=repeatable\\ read', 'mark');
  });
});
