/**
 * A node process for log-crash.int.test.ts: consumes its partitions into a 2-shard store and prints its
 * applied offsets as JSON lines. SIGTERM closes it cleanly (final flush); SIGKILL is the crash.
 *
 * argv: <redis|nats> <topic> <dir> <partitions comma-separated> <partition count> <segment|kv|tsdb>
 */
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { createLogNode, openShardedTsdb, type LogSource } from '../src/index.js';
import { createRedisLog } from '../src/adapters/redis/index.js';
import { createJetStreamLog } from '../src/adapters/nats/index.js';

const [kind, topic, dir, parts, count, storeKind] = process.argv.slice(2) as [string, string, string, string, string, 'segment' | 'kv' | 'tsdb'];
const partitions = parts.split(',').map(Number);
let log: LogSource;
let closeConn: () => Promise<void>;
if (kind === 'redis') {
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  log = createRedisLog({ client, topic, partitions: Number(count), keyPrefix: 'lsm-crash:' });
  closeConn = async () => void (await client.quit());
} else {
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  // LOG_CRASH_STARVE=<probability>: after that share of pull requests, freeze the process for 1.3 s (a
  // machine at load average ~150): the fetch's client-side timer then fires before its messages are read.
  const starve = Number(process.env.LOG_CRASH_STARVE ?? 0);
  if (starve > 0) {
    const publish = nc.publish.bind(nc);
    nc.publish = (subject, ...rest) => {
      publish(subject, ...rest);
      if (subject.includes('.CONSUMER.MSG.NEXT.') && Math.random() < starve) {
        setImmediate(() => {
          const end = Date.now() + 1300;
          while (Date.now() < end) {
            // starved
          }
        });
      }
    };
  }
  log = createJetStreamLog({ connection: nc, topic, partitions: Number(count), consumerName: `n${partitions[0]}` });
  closeConn = () => nc.drain();
}
const store = await openShardedTsdb({ dir, shards: 2, store: storeKind });
const node = createLogNode({
  log,
  partitions,
  store,
  flushEveryMs: 150,
  maxBatch: 200,
  pollMs: 200,
  onError: (err) => {
    console.error('node failed', err);
    process.exit(3);
  },
});
await node.start();
const timer = setInterval(() => {
  const s = node.stats();
  process.stdout.write(`${JSON.stringify({ applied: Object.fromEntries(Object.entries(s.partitions).map(([p, x]) => [p, x.applied ?? null])) })}\n`);
}, 100);
process.on('SIGTERM', () => {
  clearInterval(timer);
  void (async () => {
    await node.close();
    await store.close();
    await log.close();
    await closeConn();
    process.exit(0);
  })();
});
