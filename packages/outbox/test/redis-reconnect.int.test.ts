/**
 * A lost reply on the machine's Redis: a TCP proxy between the subscriber and Redis swallows the reply of the
 * XREADGROUP that delivered event n and cuts the connection. ioredis reconnects and, by default
 * (`autoResendUnfulfilledCommands`), sends the XREADGROUP `>` again, which returns event n+1: n is already in the
 * consumer's pending list, delivered but never seen. The subscriber must notice the reconnect and re-read its own
 * pending entries in stream order instead of handling n+1 first (the order violation the chaos test found).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createEvent } from '@dataplane/outbox';
import { RedisStreamsTransport } from '@dataplane/outbox/redis';
import { startLossyProxy, type LossyProxy } from './fixtures/lossy-proxy.js';

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const id = randomBytes(4).toString('hex');
const prefix = `dp:reconnect:${id}`;
const direct = new Redis(REDIS_URL.toString());
const proxies: LossyProxy[] = [];

afterAll(async () => {
  const keys = await direct.keys(`${prefix}*`);
  if (keys.length > 0) await direct.del(...keys);
  direct.disconnect();
  for (const p of proxies) p.close();
});

/** Waits for `cond` or `ms`, whichever comes first (the assertions that follow say what was missing). */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('Redis subscriber across a lost XREADGROUP reply', () => {
  it('handles event n before n+1 when the reply that delivered n was lost and ioredis re-sent the read', async () => {
    const proxy = await startLossyProxy(REDIS_URL.hostname, Number(REDIS_URL.port || 6379));
    proxies.push(proxy);
    const client = new Redis(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    const sub = new RedisStreamsTransport({ client, prefix, claimIdleMs: 60_000, blockMs: 100 });
    const pub = new RedisStreamsTransport({ client: direct, prefix });
    const seen: number[] = [];
    const s = await sub.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'c1' }, async (e) => void seen.push(e.payload as number));
    const [a, b] = [0, 1].map((n) => createEvent({ aggregateType: 'acct', aggregateId: 'x', type: 'Step', payload: n }));
    // when the reply carrying event 0 passes the proxy: append event 1, then cut the connection before the reply arrives
    proxy.dropChunkWith(a!.id, () => pub.publish([b!]));
    await pub.publish([a!]);
    await until(() => seen.length >= 2);
    expect(proxy.dropped()).toBe(true);
    // a re-read may deliver an entry twice (the inbox absorbs it), but never event 1 before event 0
    expect(seen.slice(0, 2)).toEqual([0, 1]);
    await s.close();
    client.disconnect();
    const pending = (await direct.call('XPENDING', sub.streamOf('acct', 'x'), 'g')) as [number];
    expect(pending[0]).toBe(0);
  });
});
