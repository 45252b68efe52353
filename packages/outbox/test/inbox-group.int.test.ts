/**
 * PgInbox group commit on the real PostgreSQL: concurrent `process` calls share one transaction, duplicates (within
 * and across groups) are absorbed, a throwing effect rejects only its caller, and a property against a reference
 * model checks that every effect that did not fail is applied exactly once.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEvent, type OutboxEvent } from '@dataplane/outbox';
import { PgInbox, type PgInboxOptions, type PgQueryable } from '@dataplane/outbox/pg';

const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ connectionString: PGURL, max: 4 });
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await pool.query(`drop schema if exists ${s} cascade`);
  await pool.end();
});

async function setup(options: Partial<PgInboxOptions> = {}): Promise<{ inbox: PgInbox; schema: string }> {
  const schema = `ibg_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  const inbox = new PgInbox({ pool, schema, ...options });
  await inbox.migrate();
  await pool.query(`create table ${schema}.effects (event_id uuid not null, n int not null)`);
  return { inbox, schema };
}

const ev = (i: number): OutboxEvent => createEvent({ aggregateType: 'a', aggregateId: `x${i}`, type: 'T', payload: { i } });
const apply = (schema: string, e: OutboxEvent) => async (c: PgQueryable) => {
  await c.query(`insert into ${schema}.effects (event_id, n) values ($1, $2)`, [e.id, (e.payload as { i: number }).i]);
};
async function effects(schema: string): Promise<Map<string, number>> {
  const r = await pool.query(`select event_id, count(*)::int as n from ${schema}.effects group by event_id`);
  return new Map(r.rows.map((x) => [x.event_id as string, x.n as number]));
}
async function inboxIds(schema: string): Promise<Set<string>> {
  const r = await pool.query(`select event_id from ${schema}.dataplane_inbox`);
  return new Set(r.rows.map((x) => x.event_id as string));
}

describe('PgInbox group commit', () => {
  it('commits concurrent calls in fewer transactions than events', async () => {
    const { inbox, schema } = await setup({ concurrency: 1 });
    const events = Array.from({ length: 200 }, (_, i) => ev(i));
    const results = await Promise.all(events.map((e) => inbox.process('c', e, apply(schema, e))));
    expect(results.every((r) => r === 'handled')).toBe(true);
    const s = inbox.stats();
    expect(s.events).toBe(200);
    expect(s.handled).toBe(200);
    expect(s.transactions).toBeLessThan(10);
    expect(s.maxGroup).toBe(128);
    expect(s.fallbacks).toBe(0);
    const eff = await effects(schema);
    expect(eff.size).toBe(200);
    expect([...eff.values()].every((n) => n === 1)).toBe(true);
  });

  it('absorbs duplicates within one group and across groups', async () => {
    const { inbox, schema } = await setup();
    const events = Array.from({ length: 20 }, (_, i) => ev(i));
    const first = await Promise.all([...events, ...events.slice(0, 5)].map((e) => inbox.process('c', e, apply(schema, e))));
    expect(first.filter((r) => r === 'handled')).toHaveLength(20);
    expect(first.filter((r) => r === 'duplicate')).toHaveLength(5);
    const again = await Promise.all(events.map((e) => inbox.process('c', e, apply(schema, e))));
    expect(again.every((r) => r === 'duplicate')).toBe(true);
    // another consumer name is a different inbox key
    expect(await inbox.process('other', events[0]!, async () => {})).toBe('handled');
    // a name that cannot be written into SQL text as it is goes through parameters, with the same outcome
    const odd = "o'brien; drop table x --";
    expect(await Promise.all([inbox.process(odd, events[1]!, async () => {}), inbox.process(odd, events[2]!, async () => {})])).toEqual(['handled', 'handled']);
    expect(await inbox.process(odd, events[1]!, async () => {})).toBe('duplicate');
    // an upper-case id is the same uuid
    expect(await inbox.process('c', { ...events[3]!, id: events[3]!.id.toUpperCase() }, async () => {})).toBe('duplicate');
    const eff = await effects(schema);
    expect(eff.size).toBe(20);
    expect([...eff.values()].every((n) => n === 1)).toBe(true);
  });

  it('rejects only the caller whose effect threw and leaves no inbox row for it', async () => {
    const { inbox, schema } = await setup({ concurrency: 1 });
    const events = Array.from({ length: 10 }, (_, i) => ev(i));
    const bad = events[4]!;
    const settled = await Promise.allSettled(
      events.map((e) =>
        inbox.process('c', e, async (c) => {
          await apply(schema, e)(c);
          if (e === bad) throw new Error('boom');
        }),
      ),
    );
    // the group's one transaction without savepoints failed, then the group ran again with a savepoint per effect
    expect(inbox.stats()).toMatchObject({ transactions: 2, fallbacks: 1, failed: 1, handled: 9 });
    settled.forEach((r, i) => expect(r.status).toBe(i === 4 ? 'rejected' : 'fulfilled'));
    expect((settled[4] as PromiseRejectedResult).reason).toMatchObject({ message: 'boom' });
    const ids = await inboxIds(schema);
    expect(ids.has(bad.id)).toBe(false);
    expect(ids.size).toBe(9);
    const eff = await effects(schema);
    expect(eff.has(bad.id)).toBe(false);
    expect(eff.size).toBe(9);
    // a redelivery of the failed event is handled
    expect(await inbox.process('c', bad, apply(schema, bad))).toBe('handled');
  });

  it('retries the others alone when an effect leaves the transaction aborted', async () => {
    const { inbox, schema } = await setup();
    const events = Array.from({ length: 6 }, (_, i) => ev(i));
    const poison = events[5]!;
    const settled = await Promise.allSettled(
      events.map((e) =>
        inbox.process('c', e, async (c) => {
          if (e === poison) await c.query('select 1/0').catch(() => {}); // swallowed: the transaction is aborted
          else await apply(schema, e)(c);
        }),
      ),
    );
    settled.forEach((r, i) => expect(r.status).toBe(i === 5 ? 'rejected' : 'fulfilled'));
    const ids = await inboxIds(schema);
    expect(ids.size).toBe(5);
    expect(ids.has(poison.id)).toBe(false);
    expect((await effects(schema)).size).toBe(5);
  });

  it('waits maxGroupWaitMs to gather calls and validates its options', async () => {
    const { inbox, schema } = await setup({ maxGroupWaitMs: 20, maxGroupSize: 8 });
    const events = Array.from({ length: 8 }, (_, i) => ev(i));
    const ps: Array<Promise<unknown>> = [];
    for (const e of events) {
      ps.push(inbox.process('c', e, apply(schema, e)));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(ps);
    expect(inbox.stats().transactions).toBeLessThan(8);
    expect(() => new PgInbox({ pool, maxGroupSize: 0 })).toThrow(/maxGroupSize/);
    expect(() => new PgInbox({ pool, maxGroupWaitMs: -1 })).toThrow(/maxGroupWaitMs/);
    expect(() => new PgInbox({ pool, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new PgInbox({ pool, concurrency: 1.5 })).toThrow(/concurrency/);
  });

  it('commits groups of several lanes at once and keeps call order per aggregate', async () => {
    const { inbox, schema } = await setup({ concurrency: 3, maxGroupSize: 16 });
    await pool.query(`alter table ${schema}.effects add column agg text, add column at bigserial`);
    const events = Array.from({ length: 240 }, (_, i) => createEvent({ aggregateType: 'a', aggregateId: `g${i % 12}`, type: 'T', payload: { i } }));
    const results = await Promise.all(
      events.map((e) =>
        inbox.process('c', e, async (c) => {
          await c.query(`insert into ${schema}.effects (event_id, n, agg) values ($1, $2, $3)`, [e.id, (e.payload as { i: number }).i, e.aggregateId]);
        }),
      ),
    );
    expect(results.every((r) => r === 'handled')).toBe(true);
    const s = inbox.stats();
    expect(s).toMatchObject({ events: 240, handled: 240, fallbacks: 0 });
    expect(s.transactions).toBeGreaterThanOrEqual(240 / 16);
    // in the order the effects ran, each aggregate's events come in call order
    const r = await pool.query(`select agg, n from ${schema}.effects order by at`);
    const last = new Map<string, number>();
    for (const row of r.rows as Array<{ agg: string; n: number }>) {
      expect(row.n).toBeGreaterThan(last.get(row.agg) ?? -1);
      last.set(row.agg, row.n);
    }
    expect(r.rows).toHaveLength(240);
  });

  it('matches a reference model under random interleavings of events, duplicates and failures', async () => {
    const step = fc.record({ event: fc.nat({ max: 15 }), fail: fc.boolean(), delay: fc.nat({ max: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 3 }), async (waves, maxGroupSize, concurrency) => {
        const { inbox, schema } = await setup({ maxGroupSize, concurrency });
        const events = Array.from({ length: 16 }, (_, i) => ev(i));
        // reference: an event is applied once if any of its calls' effect succeeded
        const applied = new Set<number>();
        let handled = 0;
        for (const wave of waves) {
          const settled = await Promise.allSettled(
            wave.map(async (s) => {
              if (s.delay > 0) await new Promise((r) => setTimeout(r, s.delay));
              const e = events[s.event]!;
              return inbox.process('c', e, async (c) => {
                await apply(schema, e)(c);
                if (s.fail) throw new Error('fail');
              });
            }),
          );
          wave.forEach((s, i) => {
            const r = settled[i]!;
            if (r.status === 'fulfilled' && r.value === 'handled') {
              expect(applied.has(s.event)).toBe(false);
              applied.add(s.event);
              handled++;
            }
            if (r.status === 'rejected') expect(s.fail).toBe(true);
          });
          wave.forEach((s, i) => {
            const r = settled[i]!;
            if (r.status === 'fulfilled' && r.value === 'duplicate') expect(applied.has(s.event)).toBe(true);
          });
          // every event with a successful call in this wave is applied after it
          for (const s of wave) if (!s.fail) expect(applied.has(s.event)).toBe(true);
        }
        const eff = await effects(schema);
        expect(new Set([...eff.keys()])).toEqual(new Set([...applied].map((i) => events[i]!.id)));
        expect([...eff.values()].every((n) => n === 1)).toBe(true);
        expect(await inboxIds(schema)).toEqual(new Set([...applied].map((i) => events[i]!.id)));
        expect(inbox.stats().handled).toBe(handled);
      }),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 25), verbose: true },
    );
  }, 120_000);
});
