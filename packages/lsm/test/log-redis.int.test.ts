import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { createRedisLog } from '@dataplane/lsm/redis';
import { logConformance } from './log-conformance.js';

const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
afterAll(async () => {
  await client.quit();
});

logConformance('redis streams', async (partitions) =>
  createRedisLog({ client, topic: `t${Math.random().toString(36).slice(2)}`, partitions, keyPrefix: 'lsm-test:' }),
);
