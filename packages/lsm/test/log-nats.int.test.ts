import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJetStreamLog } from '@dataplane/lsm/nats';
import { logConformance } from './log-conformance.js';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
});
afterAll(async () => {
  await nc.drain();
});

const topic = () => `lsmtest_${Math.random().toString(36).slice(2)}`;
logConformance('jetstream durable', async (partitions) => createJetStreamLog({ connection: nc, topic: topic(), partitions, storage: 'memory' }));
logConformance('jetstream ordered', async (partitions) =>
  createJetStreamLog({ connection: nc, topic: topic(), partitions, consumer: 'ordered', storage: 'memory' }),
);

/** Blocks the event loop (a starved process): timers that came due fire before the socket is read. */
function blockLoop(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

describe('jetstream durable consumer on a starved process', () => {
  // On a heavily loaded machine a fetch's client-side timer (expires x 1.05) can fire before the socket is
  // read: the messages the server already delivered for that pull are dropped by the client. With
  // AckPolicy.All the next ack covers them, so they were lost (the crash test's kv run lost 10k-31k points
  // this way). Freeze the process right after each pull request is written, longer than that timer.
  it('loses no record when a fetch times out on the client while its messages are in flight', { timeout: 60_000 }, async () => {
    const log = createJetStreamLog({ connection: nc, topic: topic(), partitions: 2, storage: 'memory' });
    await log.start();
    const publish = nc.publish.bind(nc);
    let freezes = 0;
    nc.publish = (subject, ...rest) => {
      publish(subject, ...rest);
      if (subject.includes('.CONSUMER.MSG.NEXT.') && freezes < 3) {
        freezes++;
        setImmediate(() => blockLoop(1300)); // after the microtask that writes the request
      }
    };
    try {
      const N = 100;
      const values = Array.from({ length: N }, (_, i) => new TextEncoder().encode(String(i)));
      const offsets = await log.produce(0, values);
      await log.produce(1, values.slice(0, 10)); // interleaved stream sequences, as with several partitions
      const seen: bigint[] = [];
      const ac = new AbortController();
      const deadline = Date.now() + 30_000;
      for await (const batch of log.consume(0, { maxBatch: 10, pollMs: 1000, signal: ac.signal })) {
        for (const r of batch.records) seen.push(r.offset);
        if (seen.at(-1) === offsets.at(-1) || Date.now() > deadline) break;
      }
      expect(freezes).toBe(3);
      const missing = offsets.filter((o) => !seen.includes(o));
      const sorted = seen.every((o, i) => i === 0 || o > seen[i - 1]!);
      expect({ missing: missing.length, duplicates: seen.length - new Set(seen).size, sorted }).toEqual({ missing: 0, duplicates: 0, sorted: true });
    } finally {
      nc.publish = publish;
      await log.destroy();
    }
  });
});
