import { describe, expect, it } from 'vitest';
import { Consumer, MemoryTransport, createEvent, type DeadLetter, type Inbox, type OutboxEvent } from '@dataplane/outbox';

/** Reference inbox in memory: a set of handled ids plus the effects list, applied atomically. */
class MemInbox implements Inbox<string[]> {
  seen = new Set<string>();
  effects: string[] = [];
  dead = new Map<string, DeadLetter>();
  async migrate(): Promise<void> {}
  async process(consumer: string, event: OutboxEvent, effect: (ctx: string[]) => Promise<void>): Promise<'handled' | 'duplicate'> {
    const key = `${consumer}/${event.id}`;
    if (this.seen.has(key)) return 'duplicate';
    const staged: string[] = [];
    await effect(staged); // throws => nothing recorded
    this.seen.add(key);
    this.effects.push(...staged);
    return 'handled';
  }
  async deadLetter(consumer: string, event: OutboxEvent, error: string, attempts: number): Promise<void> {
    this.dead.set(event.id, { consumer, event, error, attempts, failedAt: new Date(0).toISOString() });
  }
  async listDeadLetters(): Promise<DeadLetter[]> {
    return [...this.dead.values()];
  }
  async removeDeadLetter(_c: string, id: string): Promise<boolean> {
    return this.dead.delete(id);
  }
}

const ev = (agg: string, n: number): OutboxEvent => createEvent({ aggregateType: 'acct', aggregateId: agg, type: 'Step', payload: { n } });

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('Consumer over MemoryTransport', () => {
  it('absorbs duplicates, keeps per-aggregate order, retries then succeeds', async () => {
    const transport = new MemoryTransport();
    const inbox = new MemInbox();
    let failOnce = true;
    const consumer = new Consumer({
      name: 'c1', transport, inbox, aggregateTypes: ['acct'], backoff: { initialMs: 1, maxMs: 2 },
      handler: async (e, ctx) => {
        const n = (e.payload as { n: number }).n;
        if (n === 3 && failOnce) {
          failOnce = false;
          throw new Error('transient');
        }
        ctx.push(`${e.aggregateId}:${n}`);
      },
    });
    await consumer.start();
    const events = [0, 1, 2, 3, 4].flatMap((n) => [ev('a', n), ev('b', n)]);
    await transport.publish(events);
    await transport.publish(events.slice(2, 6)); // redelivery
    await until(() => consumer.stats().handled === 10 && consumer.stats().duplicates === 4);
    for (const agg of ['a', 'b']) expect(inbox.effects.filter((x) => x.startsWith(agg))).toEqual([0, 1, 2, 3, 4].map((n) => `${agg}:${n}`));
    expect(consumer.stats().retries).toBe(1);
    await consumer.close();
    await transport.close();
  });

  it('dead-letters after maxAttempts, then replays once fixed', async () => {
    const transport = new MemoryTransport();
    const inbox = new MemInbox();
    let broken = true;
    const consumer = new Consumer({
      name: 'c2', transport, inbox, aggregateTypes: ['acct'], maxAttempts: 3, backoff: { initialMs: 1, maxMs: 2 },
      handler: async (e, ctx) => {
        if (broken) throw new Error('poison');
        ctx.push(e.id);
      },
    });
    await consumer.start();
    const e = ev('z', 1);
    await transport.publish([e]);
    await until(() => consumer.stats().deadLettered === 1);
    expect(consumer.stats().retries).toBe(2);
    expect((await inbox.listDeadLetters())[0]).toMatchObject({ error: 'poison', attempts: 3 });
    broken = false;
    expect(await consumer.replayDeadLetters()).toEqual({ replayed: 1, failed: 0 });
    expect(inbox.effects).toEqual([e.id]);
    expect(inbox.dead.size).toBe(0);
    await consumer.close();
    await consumer.close();
  });

  it('close() waits for the in-flight handler', async () => {
    const transport = new MemoryTransport();
    const inbox = new MemInbox();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const consumer = new Consumer({ name: 'c3', transport, inbox, aggregateTypes: ['acct'], handler: async (_e, ctx) => { started = true; await gate; ctx.push('done'); } });
    await consumer.start();
    await transport.publish([ev('q', 1)]);
    await until(() => started);
    const closing = consumer.close();
    setTimeout(release, 20);
    await closing;
    expect(inbox.effects).toEqual(['done']);
  });

  it('validates its options', () => {
    const base = { transport: new MemoryTransport(), inbox: new MemInbox(), aggregateTypes: ['a'], handler: async () => {} };
    expect(() => new Consumer({ ...base, name: 'bad name' })).toThrow(/name/);
    expect(() => new Consumer({ ...base, name: 'ok', maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});
